"""Deciding where a case goes: the first dispatch, a return, a re-dispatch.

Pure: the service layer loads the case and its assignments, calls these,
and stores what they changed. Deadlines are working time on each receiving
department's own calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import (
    Assignment,
    AssignmentStatus,
    CaseFile,
    CaseState,
    Decision,
    Role,
)
from dispatch.domain.stages import Stage
from svckit.calendars import CalendarBook, WorkingCalendar
from svckit.errors import FailedPreconditionError, InvalidArgumentError


@dataclass(frozen=True)
class Unroutable:
    """Why a case cannot be dispatched automatically."""

    reason: str


def route_case(
    matrix: ResponsibilityMatrix, case: CaseFile, now: datetime
) -> Decision | Unroutable:
    """The decision for a case now, or why an operator must dispatch it by hand.

    A filed case is never refused: intake has already opened it, so a case no
    rule covers (or one naming a category or district this service does not
    know, e.g. after a catalogue change) waits in the manual queue with the
    reason rather than being dropped. A ``manual`` rule puts it there on purpose.
    """
    if not case.district_code:
        return Unroutable("the case's place has no district")
    try:
        decision = matrix.route(case.category_code, case.place, now, case.urgency)
    except InvalidArgumentError as exc:
        return Unroutable(str(exc))
    if decision is None:
        return Unroutable(
            f"no responsibility rule covers {case.category_code} in {case.district_code} "
            f"on {matrix.local_date(now)}"
        )
    if decision.manual:
        return Unroutable(
            f"rule {decision.rule_id} (v{decision.rule_version}) sends {case.category_code} "
            "to manual dispatch"
        )
    return decision


def calendar_of(
    calendars: CalendarBook, directory: DepartmentDirectory, department_id: str
) -> WorkingCalendar:
    department = directory.get(department_id)
    return calendars.for_department(department_id, department.type if department else None)


def assignments_for(
    case: CaseFile,
    decision: Decision,
    *,
    now: datetime,
    calendars: CalendarBook,
    directory: DepartmentDirectory,
    new_id: Callable[[], str],
    teams: Mapping[str, str] | None = None,
    lead_only: bool = False,
) -> list[Assignment]:
    """The lead's assignment and (unless ``lead_only``) one per assisting department.

    Each starts now with the 处置 working time of the decision on the
    receiving department's own calendar. Moves the case to the next attempt.
    """
    case.attempt += 1
    case.state, case.reason, case.updated_at = CaseState.DISPATCHED, "", now
    lead = decision.department_id
    roles = [(lead, Role.LEAD)] + (
        [] if lead_only else [(a, Role.ASSIST) for a in decision.assist_ids]
    )
    disposal = decision.stage_hours[Stage.DISPOSAL]
    return [
        Assignment(
            dispatch_id=new_id(),
            case_id=case.case_id,
            department_id=department,
            role=role,
            attempt=case.attempt,
            rule_id=decision.rule_id,
            rule_version=decision.rule_version,
            dispatched_at=now,
            deadline=calendar_of(calendars, directory, department).add(now, disposal),
            lead_department_id=lead,
            team_id=(teams or {}).get(department, ""),
            order=index,
        )
        for index, (department, role) in enumerate(roles)
    ]


def assist_replacement(
    case: CaseFile,
    returned: Assignment,
    decision: Decision,
    *,
    lead_department_id: str,
    now: datetime,
    calendars: CalendarBook,
    directory: DepartmentDirectory,
    new_id: Callable[[], str],
    team_id: str = "",
) -> Assignment:
    """An assisting share handed to the decision's department after its holder returned it.

    The next attempt of the case, same place in the joint case, the 处置
    working time of the decision on the new department's calendar.
    """
    case.attempt += 1
    case.updated_at = now
    department = decision.department_id
    return Assignment(
        dispatch_id=new_id(),
        case_id=case.case_id,
        department_id=department,
        role=Role.ASSIST,
        attempt=case.attempt,
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        dispatched_at=now,
        deadline=calendar_of(calendars, directory, department).add(now, decision.disposal),
        lead_department_id=lead_department_id,
        team_id=team_id,
        order=returned.order,
    )


def take_return(
    case: CaseFile,
    assignment: Assignment,
    *,
    at: datetime,
    reason: str,
    calendar: WorkingCalendar,
) -> None:
    """退单: the assignment ends RETURNED; the time it was held is recorded as lost.

    Only a lead's return counts towards arbitration; an assisting
    department's return hands its share on (see ``assist_replacement``).
    """
    assignment.end(AssignmentStatus.RETURNED, at, reason)
    assignment.lost = calendar.between(assignment.dispatched_at, at)
    case.updated_at = at
    if assignment.role is Role.LEAD:
        case.returns += 1
        if assignment.department_id not in case.returned_by:
            case.returned_by.append(assignment.department_id)


def manual_decision(
    matrix: ResponsibilityMatrix,
    case: CaseFile,
    department_id: str,
    assist_ids: tuple[str, ...] = (),
    *,
    rule_id: str,
    rule_version: str = "",
) -> Decision:
    """A decision made by a person (manual dispatch, arbitration): the catalogue's stage hours."""
    directory = matrix.directory
    for name in (department_id, *assist_ids):
        if name not in directory:
            raise InvalidArgumentError(f"unknown department {name!r}")
    if department_id in assist_ids:
        raise InvalidArgumentError("the lead department cannot also assist")
    if case.category_code not in matrix.catalogue:
        raise FailedPreconditionError(
            f"case {case.case_id} has category {case.category_code!r}, which the catalogue does "
            "not know: reclassify the case first"
        )
    return Decision(
        department_id=department_id,
        rule_id=rule_id,
        rule_version=rule_version,
        stage_hours=matrix.stage_hours(case.category_code, case.urgency),
        assist_ids=tuple(dict.fromkeys(assist_ids)),
    )
