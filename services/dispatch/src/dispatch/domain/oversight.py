"""The operations centre's decisions: arbitration (仲裁), extensions (延期), 挂账.

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
from dispatch.domain.working_time import WorkingCalendar, hours
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


def backlog(case: CaseFile, now: datetime, reason: str) -> None:
    """挂账: an open case acknowledged unsolvable for now; its clocks stop."""
    if case.state not in OPEN_STATES:
        raise FailedPreconditionError(f"case {case.case_id} is {case.state.value}; only open cases")
    if not reason.strip():
        raise InvalidArgumentError("a reason is required for 挂账")
    case.state, case.reason, case.updated_at = CaseState.BACKLOGGED, reason.strip(), now
