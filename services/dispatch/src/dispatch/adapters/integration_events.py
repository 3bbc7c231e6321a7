"""Dispatch records ⇄ the events other services exchange with it.

Out: ``cityops.dispatch.v1`` events. In: the few fields dispatch needs from
intake's cases and the work orders' events, translated to domain values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2
from dispatch.domain.areas import Place
from dispatch.domain.escalation import EscalationKind, Timer
from dispatch.domain.model import Assignment, CaseFile, Role
from dispatch.domain.oversight import Extension, Suspension

URGENCY_NAMES: dict[int, str] = {
    common_pb2.URGENCY_IMMEDIATE: "immediate",
    common_pb2.URGENCY_EXPECTED: "expected",
    common_pb2.URGENCY_FUTURE: "future",
    common_pb2.URGENCY_PAST: "past",
    common_pb2.URGENCY_UNKNOWN: "unknown",
}
URGENCY_VALUES = {name: value for value, name in URGENCY_NAMES.items()}
ROLE_VALUES = {
    Role.LEAD: events_pb2.DISPATCH_ROLE_LEAD,
    Role.ASSIST: events_pb2.DISPATCH_ROLE_ASSIST,
}
KIND_VALUES = {
    EscalationKind.WARNING: events_pb2.ESCALATION_KIND_WARNING,
    EscalationKind.BREACH: events_pb2.ESCALATION_KIND_BREACH,
}


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def moment(stamp: Timestamp, default: datetime) -> datetime:
    """An event's timestamp as an aware datetime, or ``default`` when unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return default
    return stamp.ToDatetime(tzinfo=UTC)


def urgency_name(value: int) -> str:
    return URGENCY_NAMES.get(value, "default")


def place_from(place: common_pb2.Place) -> Place:
    point = (place.point.latitude, place.point.longitude) if place.HasField("point") else None
    return Place(place.district_code, place.street_code, place.grid_code, point)


def place_message(place: Place) -> common_pb2.Place:
    message = common_pb2.Place(
        district_code=place.district_code, street_code=place.street_code, grid_code=place.grid_code
    )
    if place.point is not None:
        message.point.CopyFrom(
            common_pb2.GeoPoint(latitude=place.point[0], longitude=place.point[1])
        )
    return message


def case_dispatched(case: CaseFile, assignment: Assignment) -> events_pb2.CaseDispatched:
    """派遣: the case as filed (title, place, urgency) plus where it went and by when.

    Workorders builds its work order from this alone, so it carries everything
    the department needs to see without asking intake. A joint case has one
    per department: the lead and each assisting department.
    """
    return events_pb2.CaseDispatched(
        case_id=case.case_id,
        dispatch_id=assignment.dispatch_id,
        department_id=assignment.department_id,
        category_code=case.category_code,
        title=case.title,
        place=place_message(case.place),
        urgency=URGENCY_VALUES.get(case.urgency, common_pb2.URGENCY_UNSPECIFIED),  # type: ignore[arg-type]
        dispatched_at=timestamp(assignment.dispatched_at),
        deadline=timestamp(assignment.deadline),
        rule_id=assignment.rule_id,
        rule_version=assignment.rule_version,
        role=ROLE_VALUES[assignment.role],
        attempt=assignment.attempt,
        lead_department_id=assignment.lead_department_id,
        team_id=assignment.team_id,
    )


def case_redispatched(
    case: CaseFile, assignment: Assignment, previous: Assignment | None, reason: str
) -> events_pb2.CaseRedispatched:
    return events_pb2.CaseRedispatched(
        dispatch=case_dispatched(case, assignment),
        previous_department_id=previous.department_id if previous else "",
        previous_dispatch_id=previous.dispatch_id if previous else "",
        reason=reason,
    )


def case_unroutable(case: CaseFile) -> events_pb2.CaseUnroutable:
    """No rule routes the case: the operations centre must dispatch it by hand."""
    return events_pb2.CaseUnroutable(
        case_id=case.case_id, category_code=case.category_code, reason=case.reason
    )


def case_escalated(timer: Timer, now: datetime) -> events_pb2.CaseEscalated:
    return events_pb2.CaseEscalated(
        case_id=timer.case_id,
        dispatch_id=timer.dispatch_id,
        department_id=timer.department_id,
        kind=KIND_VALUES[timer.kind],
        level=timer.level,
        stage=timer.stage.value,
        deadline=timestamp(timer.deadline),
        escalated_at=timestamp(now),
    )


def arbitration_requested(case: CaseFile, reason: str) -> events_pb2.CaseArbitrationRequested:
    return events_pb2.CaseArbitrationRequested(
        case_id=case.case_id,
        category_code=case.category_code,
        returned_by_department_ids=case.returned_by,
        reason=reason,
    )


def extension_decided(extension: Extension, actor: common_pb2.Actor) -> events_pb2.ExtensionDecided:
    event = events_pb2.ExtensionDecided(
        case_id=extension.case_id,
        dispatch_id=extension.dispatch_id,
        order_id=extension.order_id,
        extension_id=extension.extension_id,
        approved=extension.new_deadline is not None,
        decided_by=actor,
        decided_at=timestamp(extension.decided_at or datetime.now(UTC)),
        note=extension.note,
    )
    if extension.new_deadline is not None:
        event.new_deadline.CopyFrom(timestamp(extension.new_deadline))
    return event


def case_backlogged(
    case: CaseFile, dispatch_id: str, actor: common_pb2.Actor, at: datetime
) -> events_pb2.CaseBacklogged:
    return events_pb2.CaseBacklogged(
        case_id=case.case_id,
        dispatch_id=dispatch_id,
        decided_by=actor,
        backlogged_at=timestamp(at),
        reason=case.reason,
    )


def case_resumed(
    case: CaseFile,
    suspension: Suspension,
    suspended: timedelta,
    moved: list[Assignment],
    actor: common_pb2.Actor,
) -> events_pb2.CaseResumed:
    """Out of 挂账: the state the case is back in, and every share's new deadline.

    ``suspended`` is the working time on the city's calendar; each share moved
    by the working time on its own department's, hence the deadlines listed.
    """
    return events_pb2.CaseResumed(
        case_id=case.case_id,
        resumed_by=actor,
        resumed_at=timestamp(suspension.resumed_at or case.updated_at),
        suspended_hours=hours_of(suspended),
        state=case.state.value,
        moved=[
            events_pb2.MovedDeadline(
                dispatch_id=a.dispatch_id,
                department_id=a.department_id,
                deadline=timestamp(a.deadline),
            )
            for a in moved
        ],
        note=suspension.note,
    )


def hours_of(value: timedelta) -> float:
    return round(value.total_seconds() / 3600, 4)
