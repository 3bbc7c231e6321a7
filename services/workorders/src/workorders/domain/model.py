"""A work order: one department's share of a dispatched case.

Plain data plus the two department actions (签收 accept, 反馈 complete). Every
change goes through `rules`, so the same checks hold whichever entrypoint
(gRPC today, more later) drives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from workorders.domain import rules
from workorders.domain.states import OrderState

__all__ = ["Dispatch", "Evidence", "OrderState", "Place", "WorkOrder"]


@dataclass(frozen=True)
class Place:
    """Where the incident is, as dispatch resolved it."""

    latitude: float | None = None
    longitude: float | None = None
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""


@dataclass(frozen=True)
class Evidence:
    """A file held elsewhere (object store), pinned by its hash so it cannot be swapped."""

    uri: str
    sha256: str
    media_type: str = ""
    size_bytes: int = 0


@dataclass(frozen=True)
class Dispatch:
    """What dispatch decided, as far as the department needs it to act."""

    dispatch_id: str
    case_id: str
    department_id: str
    category_code: str
    title: str
    place: Place | None
    deadline: datetime | None
    # The discovery trace of the case, so later actions can link back to it.
    case_traceparent: str = ""


@dataclass
class WorkOrder:
    order_id: str
    dispatch_id: str
    case_id: str
    department_id: str
    state: OrderState
    category_code: str
    title: str
    place: Place | None
    created_at: datetime
    deadline: datetime | None = None
    accepted_at: datetime | None = None
    accepted_by: str = ""
    completed_at: datetime | None = None
    completed_by: str = ""
    completion_note: str = ""
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    case_traceparent: str = ""

    @classmethod
    def from_dispatch(cls, dispatch: Dispatch, *, order_id: str, now: datetime) -> WorkOrder:
        """A new order in CREATED, copying what the department needs from the dispatch."""
        rules.require_dispatch_fields(
            dispatch_id=dispatch.dispatch_id,
            case_id=dispatch.case_id,
            department_id=dispatch.department_id,
        )
        return cls(
            order_id=order_id,
            dispatch_id=dispatch.dispatch_id,
            case_id=dispatch.case_id,
            department_id=dispatch.department_id,
            state=OrderState.CREATED,
            category_code=dispatch.category_code,
            title=dispatch.title,
            place=dispatch.place,
            created_at=now,
            deadline=dispatch.deadline,
            case_traceparent=dispatch.case_traceparent,
        )

    def accept(self, actor: rules.Principal, now: datetime) -> None:
        """签收: the owning department takes the order on."""
        rules.ensure_may_act(actor, self.department_id, "accept")
        self.state = rules.transition(self.state, OrderState.ACCEPTED)
        self.accepted_at = now
        self.accepted_by = actor.user_id

    def complete(
        self,
        actor: rules.Principal,
        now: datetime,
        *,
        note: str,
        evidence: tuple[Evidence, ...],
    ) -> None:
        """反馈: the owning department reports the work done, with a note and evidence."""
        rules.ensure_may_act(actor, self.department_id, "complete")
        note = rules.require_note(note)
        for ref in evidence:
            rules.check_evidence(ref.uri, ref.sha256, ref.size_bytes)
        self.state = rules.transition(self.state, OrderState.COMPLETED)
        self.completed_at = now
        self.completed_by = actor.user_id
        self.completion_note = note
        self.evidence = tuple(
            Evidence(e.uri, e.sha256.lower(), e.media_type, e.size_bytes) for e in evidence
        )
