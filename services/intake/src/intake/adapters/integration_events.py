"""Other services' events → intake's domain commands and case signals.

Only this module (with `case_protos` and the gRPC entrypoint) knows the wire
shapes, so the domain never sees a proto.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from intake.adapters.policy_file import source_kind_name
from intake.domain.commands import FileFromDetection, WithdrawDetection
from intake.domain.model import (
    ArbitrationRequest,
    CaseSignal,
    CaseState,
    DispatchFacts,
    Escalation,
    Evidence,
    Place,
    Progress,
    Resumption,
)
from svckit.errors import PermanentError
from svckit.messaging.envelope import IncomingEvent

CERTAINTY_PREFIX = "CERTAINTY_"


def _when(message: Message, field: str, fallback: datetime) -> datetime:
    """An event's own timestamp field, or the envelope time if the producer left it unset."""
    if not field or not message.HasField(field):
        return fallback
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def _certainty(value: int) -> str:
    try:
        name = common_pb2.Certainty.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return ""
    return name.removeprefix(CERTAINTY_PREFIX).lower()


def detection_command(event: IncomingEvent) -> FileFromDetection:
    """The intake command for a DetectionReported; one without an id is invalid for good."""
    message = event.message
    if not isinstance(message, detection_events.DetectionReported):
        raise PermanentError(f"expected DetectionReported, got {event.type}")
    d = message.detection
    if not d.detection_id or not d.category_code:
        raise PermanentError("detection without detection_id or category_code")
    place = None
    if d.HasField("place"):
        p = d.place
        place = Place(
            p.point.latitude, p.point.longitude, p.district_code, p.street_code, p.grid_code
        )
    observed = _when(d, "observed_at", _when(d, "received_at", event.time))
    return FileFromDetection(
        detection_id=d.detection_id,
        source_id=d.source_id,
        category_code=d.category_code,
        place=place,
        urgency=int(d.urgency),
        observed_at=observed,
        idempotency_key=d.idempotency_key,
        source_kind=source_kind_name(d.source_kind),
        device_id=d.device_id,
        component_id=d.component_id,
        confidence=d.confidence,
        certainty=_certainty(d.certainty),
        evidence=tuple(
            Evidence(e.uri, e.sha256, e.media_type, e.size_bytes) for e in d.evidence if e.uri
        ),
        supersedes_detection_id=d.supersedes_detection_id,
    )


def withdrawal_command(event: IncomingEvent) -> WithdrawDetection:
    """The command for a DetectionWithdrawn (CAP Cancel, an alarm gone inactive)."""
    m = event.message
    if not isinstance(m, detection_events.DetectionWithdrawn):
        raise PermanentError(f"expected DetectionWithdrawn, got {event.type}")
    if not m.detection_id and not m.idempotency_key:
        raise PermanentError("withdrawal names neither detection_id nor idempotency_key")
    return WithdrawDetection(
        detection_id=m.detection_id,
        idempotency_key=m.idempotency_key,
        reason=m.reason,
        withdrawn_at=_when(m, "withdrawn_at", event.time),
        # A cleared alarm ended; the problem it showed may still be there.
        cancelled=m.kind != detection_events.WITHDRAWAL_KIND_CLEARED,
    )


def _dispatch(m: dispatch_events.CaseDispatched, event: IncomingEvent) -> Progress:
    return Progress(
        case_id=m.case_id or event.case_id,
        target=CaseState.DISPATCHED,
        occurred_at=_when(m, "dispatched_at", event.time),
        department_id=m.department_id,
        deadline=_when(m, "deadline", event.time) if m.HasField("deadline") else None,
        dispatch=DispatchFacts(m.department_id, m.lead_department_id),
        assist=m.role == dispatch_events.DISPATCH_ROLE_ASSIST,
    )


def _assisting(m: Message) -> bool:
    """A work-order event that says it is an assisting department's share."""
    return (
        "role" in m.DESCRIPTOR.fields_by_name
        and getattr(m, "role") == work_order_pb2.ORDER_ROLE_ASSIST  # noqa: B009
    )


# Dispatch's state of a resumed case → intake's (an arbitration waits as RETURNED, flagged).
RESUMED_STATES = {
    "dispatched": CaseState.DISPATCHED,
    "unroutable": CaseState.UNROUTABLE,
    "arbitration": CaseState.RETURNED,
}

# (event type, state it reports, its own time field, is it a department's work order)
_SIMPLE: list[tuple[type[Message], CaseState, str, bool]] = [
    (dispatch_events.CaseUnroutable, CaseState.UNROUTABLE, "", False),
    (dispatch_events.CaseBacklogged, CaseState.BACKLOGGED, "backlogged_at", False),
    (workorder_events.WorkOrderAccepted, CaseState.ACCEPTED, "accepted_at", True),
    (workorder_events.WorkOrderProgressed, CaseState.IN_PROGRESS, "progressed_at", True),
    (workorder_events.WorkOrderCompleted, CaseState.COMPLETED, "completed_at", True),
    (workorder_events.WorkOrderReturned, CaseState.RETURNED, "returned_at", True),
    (workorder_events.WorkOrderReopened, CaseState.REWORK, "reopened_at", True),
    (audit_events.CaseVerified, CaseState.VERIFIED, "verified_at", False),
    (audit_events.CaseRework, CaseState.REWORK, "verified_at", False),
    (audit_events.CaseClosed, CaseState.CLOSED, "closed_at", False),
]


def signal_from(event: IncomingEvent) -> CaseSignal | None:
    """What a dispatch / work-order / audit event says about a case; None if nothing."""
    m, at = event.message, event.time
    if isinstance(m, dispatch_events.CaseDispatched):
        return _dispatch(m, event)
    if isinstance(m, dispatch_events.CaseRedispatched):
        return _dispatch(m.dispatch, event)
    if isinstance(m, dispatch_events.CaseEscalated):
        return Escalation(m.case_id or event.case_id, m.level, _when(m, "escalated_at", at))
    if isinstance(m, dispatch_events.CaseArbitrationRequested):
        return ArbitrationRequest(m.case_id or event.case_id, at)
    if isinstance(m, dispatch_events.CaseResumed):
        fallback = RESUMED_STATES.get(m.state, CaseState.DISPATCHED)
        deadlines = tuple(
            (moved.department_id, _when(moved, "deadline", at))
            for moved in m.moved
            if moved.HasField("deadline")
        )
        return Resumption(
            m.case_id or event.case_id, _when(m, "resumed_at", at), fallback, deadlines
        )
    for kind, target, time_field, by_department in _SIMPLE:
        if isinstance(m, kind):
            return Progress(
                case_id=getattr(m, "case_id", "") or event.case_id,
                target=target,
                occurred_at=_when(m, time_field, at),
                department_id=getattr(m, "department_id", ""),
                reason=getattr(m, "reason", "")
                if isinstance(getattr(m, "reason", ""), str)
                else "",
                from_department=by_department,
                assist=by_department and _assisting(m),
            )
    return None
