"""What callers ask of the service, independent of the wire format that carried it."""

from __future__ import annotations

from dataclasses import dataclass, field

from workorders.domain.evidence import EvidenceKind
from workorders.domain.rules import ReturnReason
from workorders.domain.states import OrderState
from workorders.domain.values import Evidence


@dataclass(frozen=True)
class ListWorkOrders:
    states: tuple[OrderState, ...] = ()
    case_id: str = ""
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class GetWorkOrder:
    order_id: str


@dataclass(frozen=True)
class AcceptWorkOrder:
    request_id: str
    order_id: str


@dataclass(frozen=True)
class CompleteWorkOrder:
    request_id: str
    order_id: str
    note: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReturnWorkOrder:
    request_id: str
    order_id: str
    reason: ReturnReason
    note: str = ""


@dataclass(frozen=True)
class ReportProgress:
    request_id: str
    order_id: str
    note: str
    evidence_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestExtension:
    request_id: str
    order_id: str
    requested_hours: int
    reason: str


@dataclass(frozen=True)
class UploadEvidence:
    request_id: str
    order_id: str
    file_name: str
    media_type: str
    content: bytes
    kind: EvidenceKind


@dataclass(frozen=True)
class GetEvidence:
    order_id: str
    evidence_id: str
