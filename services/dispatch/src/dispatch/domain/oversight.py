"""The operations centre's decisions: arbitration (仲裁), extensions (延期), 挂账 and resuming.

Each is a record kept beside the case so that who decided what, when, and
what it cost (time lost to returns) can be shown later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role
from svckit.calendars import WorkingCalendar, hours
from svckit.errors import FailedPreconditionError, InvalidArgumentError
from svckit.reference import DepartmentType

OPEN_STATES = (CaseState.DISPATCHED, CaseState.UNROUTABLE, CaseState.ARBITRATION)


class ArbitrationOutcome(StrEnum):
    TERRITORIAL = "territorial"  # 属地兜底
    DEPARTMENT = "department"


class Pending(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    DECIDED = "decided"


@dataclass
class Arbitration:
    """A case returned too often, and (once decided) who takes it and what the returns cost."""

    arbitration_id: str
    case_id: str
    requested_at: datetime
    reason: str
    returned_by: list[str]
    status: Pending = Pending.PENDING
    outcome: ArbitrationOutcome | None = None
    department_id: str = ""
    decided_by: str = ""
    decided_at: datetime | None = None
    note: str = ""
    lost: dict[str, timedelta] = field(default_factory=dict)


@dataclass
class Extension:
    """A department's 延期 request and the centre's answer."""

    extension_id: str
    case_id: str
    dispatch_id: str
    order_id: str
    department_id: str
    requested: timedelta
    reason: str
    requested_at: datetime
    status: Pending = Pending.PENDING
    granted: timedelta = timedelta(0)
    new_deadline: datetime | None = None
    decided_by: str = ""
    decided_at: datetime | None = None
    note: str = ""


def arbitration_department(
    arbitration: Arbitration,
    case: CaseFile,
    outcome: ArbitrationOutcome,
    department_id: str,
    directory: DepartmentDirectory,
) -> str:
    """Who takes the case: 属地兜底 is the street offices of the case's district."""
    if arbitration.status is not Pending.PENDING:
        raise FailedPreconditionError(f"case {case.case_id} has no pending arbitration")
    if outcome is ArbitrationOutcome.TERRITORIAL:
        office = directory.of_type(case.district_code, DepartmentType.STREET_OFFICE)
        if office is None:
            raise FailedPreconditionError(f"district {case.district_code} has no street office")
        return office.id
    if department_id not in directory:
        raise InvalidArgumentError(f"unknown department {department_id!r}")
    return department_id


def lost_time(assignments: Iterable[Assignment]) -> dict[str, timedelta]:
    """Working time each department held the case before returning it (lead returns)."""
    lost: dict[str, timedelta] = {}
    for a in assignments:
        if a.role is Role.LEAD and a.status is AssignmentStatus.RETURNED:
            lost[a.department_id] = lost.get(a.department_id, timedelta(0)) + a.lost
    return lost


def decide_extension(
    extension: Extension,
    assignment: Assignment | None,
    *,
    approve: bool,
    granted_hours: float,
    calendar: WorkingCalendar,
    now: datetime,
    by: str,
    note: str,
) -> None:
    """Approve (the deadline moves by working time, never earlier) or deny a pending request."""
    if extension.status is not Pending.PENDING:
        raise FailedPreconditionError(
            f"extension {extension.extension_id} was already {extension.status.value}"
        )
    if granted_hours < 0:
        raise InvalidArgumentError("hours cannot be negative")
    extension.decided_by, extension.decided_at, extension.note = by, now, note
    if not approve:
        extension.status = Pending.DENIED
        return
    if assignment is None or not assignment.active:
        raise FailedPreconditionError(
            f"dispatch {extension.dispatch_id} is no longer active; deny the request instead"
        )
    extension.granted = hours(granted_hours) if granted_hours else extension.requested
    extension.new_deadline = calendar.add(assignment.deadline, extension.granted)
    extension.status = Pending.APPROVED
    assignment.deadline = extension.new_deadline


@dataclass
class Suspension:
    """One 挂账 of a case: from which state, why, by whom, and (once resumed) for how long.

    Kept so the case can go back to where it stood, and so the suspended
    time is on record rather than silently missing from its deadlines.
    """

    suspension_id: str
    case_id: str
    from_state: CaseState
    reason: str
    backlogged_at: datetime
    backlogged_by: str
    from_reason: str = ""  # the case's reason before (why it was unroutable, say)
    resumed_at: datetime | None = None
    resumed_by: str = ""
    note: str = ""

    @property
    def open(self) -> bool:
        return self.resumed_at is None


def backlog(
    case: CaseFile, now: datetime, reason: str, *, by: str, suspension_id: str
) -> Suspension:
    """挂账: an open case acknowledged unsolvable for now; its clocks stop."""
    if case.state not in OPEN_STATES:
        raise FailedPreconditionError(f"case {case.case_id} is {case.state.value}; only open cases")
    if not reason.strip():
        raise InvalidArgumentError("a reason is required for 挂账")
    suspension = Suspension(
        suspension_id, case.case_id, case.state, reason.strip(), now, by, from_reason=case.reason
    )
    case.state, case.reason, case.updated_at = CaseState.BACKLOGGED, reason.strip(), now
    return suspension


def resume(
    case: CaseFile, suspension: Suspension | None, now: datetime, *, by: str, note: str
) -> Suspension:
    """Out of 挂账: the case goes back to the state it was suspended from."""
    if case.state is not CaseState.BACKLOGGED or suspension is None or not suspension.open:
        raise FailedPreconditionError(
            f"case {case.case_id} is {case.state.value}; only a backlogged (挂账) case resumes"
        )
    suspension.resumed_at, suspension.resumed_by, suspension.note = now, by, note.strip()
    case.state, case.reason, case.updated_at = suspension.from_state, suspension.from_reason, now
    return suspension


def after_suspension(
    calendar: WorkingCalendar, at: datetime, suspended_from: datetime, resumed_at: datetime
) -> datetime:
    """Where an instant of a stopped clock moves: later by the working time spent in 挂账.

    A deadline keeps the working time it had left when the clock stopped (an
    overdue one stays overdue by as much), on its own department's calendar.
    """
    return calendar.add(at, calendar.between(suspended_from, resumed_at))
