"""A work order: one department's share of a dispatched case, for one role
(主办 lead / 协办 assist) and one dispatch attempt.

Plain data plus what may happen to it: the department's actions (签收 accept,
退单 return, 处置 progress, 延期 extension, 反馈 complete) and what other
services decide (extension decided, 返工 reopen, re-dispatch cancel, 督办
escalation). Every change goes through `states.transition` and `rules`, so the
same checks hold whichever entrypoint drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from svckit.calendars import WorkingCalendar
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from workorders.domain import rules
from workorders.domain.evidence import EvidenceItem, is_store_uri, missing_evidence
from workorders.domain.rules import ReturnReason
from workorders.domain.states import LIVE, Action, OrderRole, OrderState, transition
from workorders.domain.values import Evidence, Place

__all__ = [
    "Dispatch",
    "Evidence",
    "OrderRole",
    "OrderState",
    "PendingExtension",
    "Place",
    "ReturnReason",
    "WorkOrder",
]


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
    role: OrderRole = OrderRole.LEAD
    attempt: int = 1
    lead_department_id: str = ""


@dataclass(frozen=True)
class PendingExtension:
    """A 延期 request dispatch has not decided yet, and the state to go back to."""

    extension_id: str
    requested_hours: int
    reason: str
    requested_at: datetime
    resume_state: OrderState


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
    # What the last completion cited: uploads of this order and, where allowed, external refs.
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    case_traceparent: str = ""
    role: OrderRole = OrderRole.LEAD
    attempt: int = 1
    lead_department_id: str = ""
    returned_at: datetime | None = None
    returned_by: str = ""
    return_reason: ReturnReason | None = None
    return_note: str = ""
    progressed_at: datetime | None = None
    progress_note: str = ""
    extension: PendingExtension | None = None
    reopened_at: datetime | None = None
    reopen_reason: str = ""
    rework_count: int = 0
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    escalation_level: int = 0
    escalated_at: datetime | None = None

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
            role=dispatch.role,
            attempt=max(dispatch.attempt, 1),
            lead_department_id=dispatch.lead_department_id,
        )

    # --- the department's actions ---------------------------------------------

    def accept(self, actor: rules.Principal, now: datetime) -> None:
        """签收: the owning department takes the order on."""
        rules.ensure_may_act(actor, self.department_id, "accept")
        self.state = transition(self.state, Action.ACCEPT)
        self.accepted_at = now
        self.accepted_by = actor.user_id

    def return_order(
        self, actor: rules.Principal, now: datetime, *, reason: ReturnReason, note: str
    ) -> None:
        """退单: not ours (or impossible); dispatch re-dispatches or arbitrates."""
        rules.ensure_may_act(actor, self.department_id, "return")
        note = rules.return_note(reason, note)
        self.state = transition(self.state, Action.RETURN)
        self.returned_at, self.returned_by = now, actor.user_id
        self.return_reason, self.return_note = reason, note

    def report_progress(self, actor: rules.Principal, now: datetime, *, note: str) -> None:
        """处置中: work has started or moved on."""
        rules.ensure_may_act(actor, self.department_id, "report progress on")
        note = rules.require_text(note, "progress note")
        self.state = transition(self.state, Action.PROGRESS)
        self.progressed_at, self.progress_note = now, note

    def request_extension(
        self,
        actor: rules.Principal,
        now: datetime,
        *,
        extension_id: str,
        hours: int,
        reason: str,
    ) -> PendingExtension:
        """延期申请: the order waits for dispatch's decision, remembering where it was."""
        rules.ensure_may_act(actor, self.department_id, "request an extension of")
        hours = rules.extension_hours(hours)
        reason = rules.require_text(reason, "reason for the extension")
        resume = self.state
        self.state = transition(self.state, Action.REQUEST_EXTENSION)
        self.extension = PendingExtension(extension_id, hours, reason, now, resume)
        return self.extension

    def ensure_accepts_evidence(self, actor: rules.Principal) -> None:
        """Uploads belong to the work: from 签收 until 反馈."""
        rules.ensure_may_act(actor, self.department_id, "upload evidence for")
        transition(self.state, Action.UPLOAD_EVIDENCE)

    def complete(
        self,
        actor: rules.Principal,
        now: datetime,
        *,
        note: str,
        evidence: tuple[Evidence, ...],
        uploads: Sequence[EvidenceItem] = (),
        required: Sequence[str] = (),
        accept_external: bool = True,
    ) -> None:
        """反馈: the work is done, with a note and the evidence the catalogue's
        结案条件 require (`required`, e.g. before_photo, after_photo).

        Uploads of this order are always cited. `evidence` may add files held
        elsewhere; while `accept_external` (the legacy mode) such refs also
        stand in for missing uploads, since they carry no kind.
        """
        rules.ensure_may_act(actor, self.department_id, "complete")
        note = rules.require_note(note)
        external = _external_refs(evidence, uploads)
        target = transition(self.state, Action.COMPLETE)
        missing = missing_evidence(required, uploads, since=self.reopened_at)
        if missing and not (accept_external and external):
            raise FailedPreconditionError(
                f"work order {self.order_id} lacks the evidence its category "
                f"{self.category_code} requires to close: {', '.join(missing)} "
                "(upload it with UploadEvidence)"
            )
        self.state = target
        self.completed_at, self.completed_by = now, actor.user_id
        self.completion_note = note
        self.evidence = (*(item.ref() for item in uploads), *external)

    # --- what other services decide ---------------------------------------------

    def decide_extension(
        self, extension_id: str, *, approved: bool, new_deadline: datetime | None
    ) -> None:
        """Dispatch's answer: back to work, with the new deadline when approved."""
        pending = self.extension
        if pending is None or pending.extension_id != extension_id:
            raise FailedPreconditionError(
                f"work order {self.order_id} has no pending extension {extension_id}"
            )
        self.state = transition(self.state, Action.DECIDE_EXTENSION, resume=pending.resume_state)
        self.extension = None
        if approved and new_deadline is not None:
            self.deadline = new_deadline

    def reopen(self, now: datetime, *, reason: str) -> None:
        """返工: verification failed, the department must do the work again."""
        self.state = transition(self.state, Action.REOPEN)
        self.reopened_at, self.reopen_reason = now, reason
        self.rework_count += 1

    def cancel(self, now: datetime, *, reason: str) -> None:
        """Superseded: the case went to another department."""
        self.state = transition(self.state, Action.CANCEL)
        self.extension = None
        self.cancelled_at, self.cancel_reason = now, reason

    def move_deadline(self, deadline: datetime) -> bool:
        """Dispatch moved this share's deadline (out of 挂账); True when a live order took it.

        A completed, returned or cancelled order keeps the deadline it was judged by.
        """
        if self.state not in LIVE or self.deadline == deadline:
            return False
        self.deadline = deadline
        return True

    def escalate(self, level: int, now: datetime) -> bool:
        """督办 raised on this order; True when it is a new, higher level."""
        if level <= self.escalation_level:
            return False
        self.escalation_level, self.escalated_at = level, now
        return True

    def remaining(self, now: datetime) -> timedelta | None:
        """Wall-clock time left until the deadline (negative once past)."""
        return None if self.deadline is None else self.deadline - now

    def remaining_working(self, now: datetime, calendar: WorkingCalendar) -> timedelta | None:
        """Working time left on the department's calendar: what the deadline was set in.

        Once past, minus the working time since: a Friday-evening deadline
        is no more overdue on Monday morning than at Friday's close.
        """
        return None if self.deadline is None else calendar.remaining(now, self.deadline)


def _external_refs(
    evidence: tuple[Evidence, ...], uploads: Sequence[EvidenceItem]
) -> tuple[Evidence, ...]:
    """The cited refs that are not uploads of this order, hashes normalised.

    A store ref must be one of this order's uploads (same uri and hash): an
    order never cites another order's (or department's) files; any other is
    reported as not found, whoever it belongs to.
    """
    if len(evidence) > rules.MAX_CITED_EVIDENCE:
        raise InvalidArgumentError(f"at most {rules.MAX_CITED_EVIDENCE} evidence refs")
    own = {(item.uri, item.sha256) for item in uploads}
    external: list[Evidence] = []
    for ref in evidence:
        rules.check_evidence(ref.uri, ref.sha256, ref.size_bytes)
        sha = ref.sha256.lower()
        if is_store_uri(ref.uri):
            if (ref.uri, sha) not in own:
                raise NotFoundError(f"evidence {ref.uri} is not an upload of this order")
            continue
        external.append(Evidence(ref.uri, sha, ref.media_type, ref.size_bytes))
    return tuple(external)
