"""What audit's use cases need besides a unit of work: the translator, the
signing key and the keys it trusts, and the published policies. Built once
in `bootstrap` (or by a test) and passed to handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.adapters.integration_events import EventTranslator
from audit.adapters.signing import Ed25519Signer, TrustedKeys
from audit.domain.evaluation import Formula
from audit.domain.machine import VerificationPolicy
from audit.domain.tree_head import TreeHeadPolicy


@dataclass(frozen=True)
class AuditContext:
    signer: Ed25519Signer
    trusted: TrustedKeys
    formula: Formula
    translator: EventTranslator = field(default_factory=EventTranslator)
    tree_heads: TreeHeadPolicy = field(default_factory=TreeHeadPolicy)
    verification_policy: VerificationPolicy = field(default_factory=VerificationPolicy)
