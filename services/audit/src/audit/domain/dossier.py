"""A case dossier (案卷): everything an auditor needs to prove what happened
to one case, offline: the timeline, the evidence hashes, and each entry's
inclusion proof against one signed tree head."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audit.domain.model import LedgerEntry
from audit.domain.tree_head import TreeHead


@dataclass(frozen=True)
class Evidence:
    """A piece of evidence an event cites, pinned by its hash."""

    sequence: int
    stage: str
    uri: str
    sha256: str
    media_type: str
    size_bytes: int


@dataclass(frozen=True)
class CaseFacts:
    """What a dossier's heading says about a case, from its filing and dispatches."""

    category_code: str = ""
    title: str = ""
    district_code: str = ""
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class DossierEntry:
    entry: LedgerEntry
    # RFC 6962 audit path in the head's tree; None when the head does not
    # cover the entry yet (an offline dossier made before the next head).
    audit_path: tuple[bytes, ...] | None


@dataclass(frozen=True)
class Dossier:
    case_id: str
    generated_at: datetime
    status: str
    reason_code: str
    machine_verified: bool
    facts: CaseFacts
    category_name: str
    head: TreeHead | None
    # The raw Ed25519 public key of the head's key id, when trusted here.
    public_key: bytes | None
    entries: tuple[DossierEntry, ...]
    evidence: tuple[Evidence, ...]
    # Entries whose stored body could not be read (evidence may be missing).
    problems: tuple[str, ...] = ()
