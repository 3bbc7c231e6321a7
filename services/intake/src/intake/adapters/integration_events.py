"""Protos in and out: other services' events → domain commands, cases → protos.

Only this module (and the gRPC entrypoint) knows the wire shapes, so the
domain never sees a proto.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2, events_pb2
from cityops.workorders.v1 import events_pb2 as workorder_events
from intake.domain.commands import FileFromDetection
from intake.domain.model import Case, CaseState, Place, Progress
from svckit.errors import PermanentError
from svckit.messaging.envelope import IncomingEvent

STATE_TO_PROTO: dict[CaseState, case_pb2.CaseState.ValueType] = {
    CaseState.TRIAGE: case_pb2.CASE_STATE_TRIAGE,
    CaseState.FILED: case_pb2.CASE_STATE_FILED,
    CaseState.REJECTED: case_pb2.CASE_STATE_REJECTED,
    CaseState.MERGED: case_pb2.CASE_STATE_MERGED,
    CaseState.DISPATCHED: case_pb2.CASE_STATE_DISPATCHED,
    CaseState.UNROUTABLE: case_pb2.CASE_STATE_UNROUTABLE,
    CaseState.ACCEPTED: case_pb2.CASE_STATE_ACCEPTED,
    CaseState.COMPLETED: case_pb2.CASE_STATE_COMPLETED,
    CaseState.VERIFIED: case_pb2.CASE_STATE_VERIFIED,
    CaseState.REWORK: case_pb2.CASE_STATE_REWORK,
    CaseState.CLOSED: case_pb2.CASE_STATE_CLOSED,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}


def _timestamp(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _when(message: Message, field: str, fallback: datetime) -> datetime:
    """An event's own timestamp field, or the envelope time if the producer left it unset."""
    if not message.HasField(field):
        return fallback
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def place_to_proto(place: Place) -> common_pb2.Place:
    return common_pb2.Place(
        point=common_pb2.GeoPoint(latitude=place.latitude, longitude=place.longitude),
        district_code=place.district_code,
        street_code=place.street_code,
        grid_code=place.grid_code,
    )


def case_to_proto(case: Case) -> case_pb2.Case:
    return case_pb2.Case(
        case_id=case.case_id,
        category_code=case.category_code,
        title=case.title,
        place=place_to_proto(case.place),
        urgency=case.urgency,  # type: ignore[arg-type]  # CAP number kept as is
        state=STATE_TO_PROTO[case.state],
        filed_at=_timestamp(case.filed_at),
        updated_at=_timestamp(case.updated_at),
        detection_ids=case.detection_ids,
        lead_department_id=case.lead_department_id,
        deadline=_timestamp(case.deadline),
        trace_id=case.trace_id,
    )


def case_filed(case: Case) -> events_pb2.CaseFiled:
    return events_pb2.CaseFiled(case=case_to_proto(case))


def detection_command(event: IncomingEvent) -> FileFromDetection:
    """The filing command for a DetectionReported; one without an id is invalid for good."""
    message = event.message
    if not isinstance(message, detection_events.DetectionReported):
        raise PermanentError(f"expected DetectionReported, got {event.type}")
    detection = message.detection
    if not detection.detection_id or not detection.category_code:
        raise PermanentError("detection without detection_id or category_code")
    place = None
    if detection.HasField("place"):
        p = detection.place
        place = Place(
            p.point.latitude, p.point.longitude, p.district_code, p.street_code, p.grid_code
        )
    return FileFromDetection(
        detection_id=detection.detection_id,
        source_id=detection.source_id,
        category_code=detection.category_code,
        place=place,
        urgency=int(detection.urgency),
    )


def progress_from(event: IncomingEvent) -> Progress | None:
    """What a dispatch / work-order / audit event says about a case; None if nothing."""
    m, at = event.message, event.time
    if isinstance(m, dispatch_events.CaseDispatched):
        return Progress(
            case_id=m.case_id or event.case_id,
            target=CaseState.DISPATCHED,
            occurred_at=_when(m, "dispatched_at", at),
            department_id=m.department_id,
            deadline=_when(m, "deadline", at) if m.HasField("deadline") else None,
        )
    simple: list[tuple[type[Message], CaseState, str]] = [
        (dispatch_events.CaseUnroutable, CaseState.UNROUTABLE, ""),
        (workorder_events.WorkOrderAccepted, CaseState.ACCEPTED, "accepted_at"),
        (workorder_events.WorkOrderCompleted, CaseState.COMPLETED, "completed_at"),
        (audit_events.CaseVerified, CaseState.VERIFIED, "verified_at"),
        (audit_events.CaseRework, CaseState.REWORK, "verified_at"),
        (audit_events.CaseClosed, CaseState.CLOSED, "closed_at"),
    ]
    for kind, target, time_field in simple:
        if isinstance(m, kind):
            return Progress(
                case_id=getattr(m, "case_id", "") or event.case_id,
                target=target,
                occurred_at=_when(m, time_field, at) if time_field else at,
                department_id=getattr(m, "department_id", ""),
                reason=getattr(m, "reason", ""),
            )
    return None
