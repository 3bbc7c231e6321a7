"""What callers ask of the service, independent of the wire format that carried it."""

from __future__ import annotations

from dataclasses import dataclass, field

from workorders.domain.model import Evidence
from workorders.domain.states import OrderState


@dataclass(frozen=True)
class ListWorkOrders:
    states: tuple[OrderState, ...] = ()
    case_id: str = ""
    page_size: int = 0


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
