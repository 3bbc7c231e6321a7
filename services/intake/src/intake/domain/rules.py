"""How a case's state follows what other services report.

Events arrive from four streams with no order between them, any of them may be
redelivered late, and the loop really loops: a department returns an order and
dispatch re-dispatches it (退单 → 重新派遣), a failed check reopens the work
(返工), an operator reclassifies a case and it is routed again. Position along
the loop therefore cannot order events; time can. Every event carries the time
it happened at its producer, and a case keeps the time its current state was
reached (`state_at`):

- the newer event wins: an event older than `state_at` is history arriving
  late and changes no state (a DISPATCHED after ACCEPTED changes nothing, a
  round-one ACCEPTED after the return changes nothing);
- two events at the same instant are ordered by their place in the loop (RANK);
- CLOSED, REJECTED and MERGED are final; a VERIFIED case waits only for CLOSED;
- TRIAGE cases take no progress: no one but intake has seen them;
- a work-order event from a department that assists (协办) or that led an earlier
  round changes no state: only the lead department's order speaks for the case.

This relies on the services' clocks agreeing to well under the time between two
people's actions on one case (NTP), which the deployment guarantees.

挂账 (BACKLOGGED) keeps the state the case stood in before it; a report older
than the 挂账 that arrives during it moves that kept state (it is history of
before), and `CaseResumed` puts the case back in it. A resume of a case that
is not in 挂账 changes nothing (what moved it out is newer).

Dispatch facts (lead department, deadline) follow the newest dispatch even when
the state has already moved past DISPATCHED, so a case accepted before its
dispatch event arrived still learns who leads it. 督办 is a level on the case,
reset by a newer lead dispatch; an arbitration request is a flag until the
next dispatch.
"""

from __future__ import annotations

from datetime import datetime

from intake.domain.model import (
    FINAL,
    ArbitrationRequest,
    Case,
    CaseQuery,
    CaseSignal,
    CaseState,
    DispatchFacts,
    Escalation,
    Progress,
    Resumption,
)
from svckit.errors import InvalidArgumentError

S = CaseState

RANK: dict[CaseState, int] = {
    S.FILED: 0,
    S.UNROUTABLE: 1,
    S.RETURNED: 2,
    S.BACKLOGGED: 3,
    S.DISPATCHED: 4,
    S.ACCEPTED: 5,
    S.IN_PROGRESS: 6,
    S.COMPLETED: 7,
    S.REWORK: 8,
    S.VERIFIED: 9,
    S.CLOSED: 10,
}
"""Place in the loop: orders only events of the same instant. States not listed
(TRIAGE, REJECTED, MERGED) are intake's own and never reported by others."""

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _newer(when: datetime, than: datetime | None) -> bool:
    return than is None or when > than


def moves_to(case: Case, progress: Progress) -> bool:
    """Whether `progress` moves the case's state (a decision only; nothing changes)."""
    return _moves(case, case.state, case.state_at, progress)


def _moves(case: Case, current: CaseState, current_at: datetime | None, progress: Progress) -> bool:
    target = progress.target
    if current in FINAL or current not in RANK or target not in RANK:
        return False
    if current is S.VERIFIED and target is not S.CLOSED:
        return False
    if progress.assist:
        return False
    if progress.from_department and speaks_for_others(case, progress.department_id):
        return False
    if current_at is None or progress.occurred_at > current_at:
        return True
    return progress.occurred_at == current_at and RANK[target] > RANK[current]


def speaks_for_others(case: Case, department_id: str) -> bool:
    """A department that assists, or led an earlier round, does not move the case."""
    if not department_id or department_id == case.lead_department_id:
        return False
    return (
        department_id in case.assist_department_ids or department_id in case.released_department_ids
    )


def _record_dispatch(case: Case, facts: DispatchFacts, at: datetime, progress: Progress) -> bool:
    """Keep the newest lead dispatch's department and deadline; remember assistants."""
    if progress.assist:
        changed = False
        dept = facts.department_id
        if dept and dept != case.lead_department_id and dept not in case.assist_department_ids:
            case.assist_department_ids.append(dept)
            changed = True
        if facts.lead_department_id and not case.lead_department_id:
            case.lead_department_id = facts.lead_department_id
            changed = True
        return changed
    if not _newer(at, case.dispatched_at):
        return False
    previous = case.lead_department_id
    if previous not in ("", facts.department_id, *case.released_department_ids):
        case.released_department_ids.append(previous)
    if facts.department_id in case.released_department_ids:
        case.released_department_ids.remove(facts.department_id)
    if facts.department_id in case.assist_department_ids:
        case.assist_department_ids.remove(facts.department_id)
    case.lead_department_id = facts.department_id
    case.deadline = progress.deadline
    case.dispatched_at = at
    if case.escalated_at is not None and case.escalated_at < at:
        case.escalation_level, case.escalated_at = 0, None
    return True


def apply_progress(case: Case, progress: Progress, now: datetime) -> bool:
    """Apply a state-moving report; returns whether the case changed."""
    if case.state in FINAL or case.state is S.TRIAGE:
        return False
    changed = False
    if progress.dispatch is not None:
        changed = _record_dispatch(case, progress.dispatch, progress.occurred_at, progress)
    if moves_to(case, progress):
        if progress.target is S.BACKLOGGED and case.state is not S.BACKLOGGED:
            case.state_before_backlog, case.state_before_backlog_at = case.state, case.state_at
        elif progress.target is not S.BACKLOGGED:
            case.state_before_backlog = case.state_before_backlog_at = None
        case.state = progress.target
        case.state_at = progress.occurred_at
        changed = True
    elif _moves_before_backlog(case, progress):
        case.state_before_backlog = progress.target
        case.state_before_backlog_at = progress.occurred_at
        changed = True
    if changed:
        case.updated_at = now
    return changed


def _moves_before_backlog(case: Case, progress: Progress) -> bool:
    """A report from before the 挂账, arriving during it: it moves the state resuming restores."""
    before = case.state_before_backlog
    if case.state is not S.BACKLOGGED or before is None or progress.target is S.BACKLOGGED:
        return False
    if case.state_at is not None and progress.occurred_at >= case.state_at:
        return False
    return _moves(case, before, case.state_before_backlog_at, progress)


def apply_resumption(case: Case, resumption: Resumption, now: datetime) -> bool:
    """Out of 挂账: back to the state kept from before it (or the one dispatch names)."""
    if case.state is not S.BACKLOGGED:
        return False
    if case.state_at is not None and resumption.occurred_at <= case.state_at:
        return False
    case.state = case.state_before_backlog or resumption.fallback
    for department_id, deadline in resumption.deadlines:
        if department_id == case.lead_department_id:
            case.deadline = deadline
    case.state_at = resumption.occurred_at
    case.state_before_backlog = case.state_before_backlog_at = None
    case.updated_at = now
    return True


def apply_escalation(case: Case, escalation: Escalation, now: datetime) -> bool:
    """Raise the case's 督办 level; an escalation of an earlier dispatch is history."""
    if not case.is_open or case.state is S.TRIAGE:
        return False
    if case.dispatched_at is not None and escalation.occurred_at < case.dispatched_at:
        return False
    if escalation.level <= case.escalation_level:
        return False
    case.escalation_level = escalation.level
    case.escalated_at = escalation.occurred_at
    case.updated_at = now
    return True


def apply_arbitration(case: Case, request: ArbitrationRequest, now: datetime) -> bool:
    """Flag the case as waiting for arbitration (the state stays RETURNED)."""
    if not case.is_open or case.state is S.TRIAGE:
        return False
    if not _newer(request.occurred_at, case.arbitration_requested_at):
        return False
    case.arbitration_requested_at = request.occurred_at
    case.updated_at = now
    return True


def apply_signal(case: Case, signal: CaseSignal, now: datetime) -> bool:
    """Apply whatever another service reported about the case."""
    if isinstance(signal, Progress):
        return apply_progress(case, signal, now)
    if isinstance(signal, Escalation):
        return apply_escalation(case, signal, now)
    if isinstance(signal, Resumption):
        return apply_resumption(case, signal, now)
    return apply_arbitration(case, signal, now)


def page_query(
    states: tuple[CaseState, ...], page_size: int, page_token: str, *, oldest_first: bool = False
) -> CaseQuery:
    """Validate a listing request: page size defaults and caps, the token is an offset."""
    limit, offset = page_window(page_size, page_token)
    return CaseQuery(states=states, offset=offset, limit=limit, oldest_first=oldest_first)


def page_window(page_size: int, page_token: str) -> tuple[int, int]:
    """(limit, offset) of a page request; the token is the offset this service issued."""
    if page_size < 0:
        raise InvalidArgumentError("page_size must not be negative")
    limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = 0
    if page_token:
        if not page_token.isdigit():
            raise InvalidArgumentError("page_token is not one this service issued")
        offset = int(page_token)
    return limit, offset
