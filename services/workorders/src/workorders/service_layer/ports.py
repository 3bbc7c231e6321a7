"""What the service layer needs from outside, as protocols (the adapters
implement them; unit tests pass fakes), and the bundle bootstrap wires."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from svckit.reference import Catalogue
from workorders.domain.evidence import EvidencePolicy, PhotoMetadata
from workorders.domain.notifications import AttemptResult, WebhookDirectory


class EvidenceStore(Protocol):
    """Where uploaded files live (the NATS object store in production)."""

    @property
    def bucket(self) -> str: ...

    async def put(self, key: str, data: bytes) -> None: ...

    async def read(self, key: str) -> bytes: ...

    async def sha256(self, key: str) -> str | None: ...

    async def delete(self, key: str) -> None: ...


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult: ...


@dataclass(frozen=True)
class EvidenceRules:
    """Everything the evidence and completion handlers decide with."""

    store: EvidenceStore
    policy: EvidencePolicy
    # EXIF reader (bound to the city's time zone for EXIF times without offset).
    read_metadata: Callable[[bytes], PhotoMetadata]
    catalogue: Catalogue | None
    # False (legacy): an external evidence ref on CompleteWorkOrder stands in
    # for missing uploads. True: the catalogue's 结案条件 need uploads.
    require_uploaded_evidence: bool = False

    def required_for(self, category_code: str) -> tuple[str, ...]:
        """The evidence kinds the category's 结案条件 name; none for a code
        the catalogue does not know (dispatch already routed it)."""
        if self.catalogue is None:
            return ()
        category = self.catalogue.find(category_code)
        return tuple(k.value for k in category.required_evidence) if category else ()


@dataclass(frozen=True)
class Notifier:
    """Which departments get webhooks (the delivery rows are written in the
    same transaction as the change they announce)."""

    webhooks: WebhookDirectory
