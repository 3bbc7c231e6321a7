"""How a case's state may move when other services report progress.

Events arrive from four streams with no order between them, and any of them may
be redelivered late. So the state moves *forward* along the loop:

    FILED → UNROUTABLE → DISPATCHED → ACCEPTED → COMPLETED → REWORK → VERIFIED → CLOSED

Skipping steps is fine (ACCEPTED may arrive before DISPATCHED), going back is
not (a DISPATCHED after ACCEPTED changes nothing), and CLOSED / REJECTED /
MERGED are final.

The one real loop is rework (返工): ACCEPTED → COMPLETED → REWORK → ACCEPTED →
... Inside it rank cannot order events, so time does: between ACCEPTED,
COMPLETED and REWORK the event that happened later (by its producer's clock)
wins, and an older one is a previous round arriving late. A newer dispatch
(重新派遣) likewise replaces the recorded department and deadline.
"""

from __future__ import annotations

from datetime import datetime

from intake.domain.model import Case, CaseQuery, CaseState, Progress
from svckit.errors import InvalidArgumentError

RANK: dict[CaseState, int] = {
    CaseState.FILED: 0,
    CaseState.UNROUTABLE: 1,
    CaseState.DISPATCHED: 2,
    CaseState.ACCEPTED: 3,
    CaseState.COMPLETED: 4,
    CaseState.REWORK: 5,
    CaseState.VERIFIED: 6,
    CaseState.CLOSED: 7,
}
"""Position along the loop; states not listed (TRIAGE, REJECTED, MERGED) take no progress."""

FINAL = frozenset({CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED})
REWORK_LOOP = frozenset({CaseState.ACCEPTED, CaseState.COMPLETED, CaseState.REWORK})

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _newer(when: datetime, than: datetime | None) -> bool:
    return than is None or when > than


def moves_to(case: Case, progress: Progress) -> bool:
    """Whether `progress` moves the case's state (a decision only; nothing changes)."""
    current, target = case.state, progress.target
    if current in FINAL or current not in RANK or target not in RANK:
        return False
    if current in REWORK_LOOP and target in REWORK_LOOP:
        return _newer(progress.occurred_at, case.state_at)
    return RANK[target] > RANK[current]


def apply_progress(case: Case, progress: Progress, now: datetime) -> bool:
    """Apply what another service reported; returns whether the case changed.

    The state moves only as `moves_to` allows. A dispatch's facts (lead
    department, deadline) are kept whenever that dispatch is the newest seen,
    even if the state has already moved past DISPATCHED, so a case accepted
    before its dispatch event arrived still learns who leads it.
    """
    if case.state in FINAL:
        return False
    changed = False
    if progress.target is CaseState.DISPATCHED and _newer(progress.occurred_at, case.dispatched_at):
        case.lead_department_id = progress.department_id
        case.deadline = progress.deadline
        case.dispatched_at = progress.occurred_at
        changed = True
    if moves_to(case, progress):
        case.state = progress.target
        case.state_at = progress.occurred_at
        changed = True
    if changed:
        case.updated_at = now
    return changed


def page_query(states: tuple[CaseState, ...], page_size: int, page_token: str) -> CaseQuery:
    """Validate a listing request: page size defaults and caps, the token is an offset."""
    if page_size < 0:
        raise InvalidArgumentError("page_size must not be negative")
    limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = 0
    if page_token:
        if not page_token.isdigit():
            raise InvalidArgumentError("page_token is not one this service issued")
        offset = int(page_token)
    return CaseQuery(states=states, offset=offset, limit=limit)
