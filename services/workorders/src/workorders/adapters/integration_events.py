"""Domain ⇄ protobuf: the dispatch event in, the work order and its events out.

One mapping for events and gRPC responses, so a WorkOrder looks the same to a
subscriber and to a caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2, work_order_pb2
from workorders.domain.model import Dispatch, Evidence, OrderState, Place, WorkOrder

STATE_TO_PROTO: dict[OrderState, work_order_pb2.WorkOrderState.ValueType] = {
    OrderState.CREATED: work_order_pb2.WORK_ORDER_STATE_CREATED,
    OrderState.ACCEPTED: work_order_pb2.WORK_ORDER_STATE_ACCEPTED,
    OrderState.COMPLETED: work_order_pb2.WORK_ORDER_STATE_COMPLETED,
}
STATE_FROM_PROTO = {value: state for state, value in STATE_TO_PROTO.items()}


def dispatch_from_event(msg: dispatch_events.CaseDispatched, traceparent: str) -> Dispatch:
    place = None
    if msg.HasField("place"):
        point = msg.place.point if msg.place.HasField("point") else None
        place = Place(
            latitude=point.latitude if point else None,
            longitude=point.longitude if point else None,
            district_code=msg.place.district_code,
            street_code=msg.place.street_code,
            grid_code=msg.place.grid_code,
        )
    return Dispatch(
        dispatch_id=msg.dispatch_id,
        case_id=msg.case_id,
        department_id=msg.department_id,
        category_code=msg.category_code,
        title=msg.title,
        place=place,
        deadline=msg.deadline.ToDatetime(tzinfo=UTC) if msg.HasField("deadline") else None,
        case_traceparent=traceparent,
    )


def evidence_from_proto(refs: Iterable[common_pb2.EvidenceRef]) -> tuple[Evidence, ...]:
    return tuple(Evidence(r.uri, r.sha256, r.media_type, r.size_bytes) for r in refs)


def work_order_message(order: WorkOrder) -> work_order_pb2.WorkOrder:
    msg = work_order_pb2.WorkOrder(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        state=STATE_TO_PROTO[order.state],
        category_code=order.category_code,
        title=order.title,
        created_at=_ts(order.created_at),
        completion_note=order.completion_note,
        evidence=_evidence(order.evidence),
    )
    if order.place is not None:
        msg.place.CopyFrom(_place(order.place))
    for name in ("deadline", "accepted_at", "completed_at"):
        when: datetime | None = getattr(order, name)
        if when is not None:
            getattr(msg, name).CopyFrom(_ts(when))
    return msg


def created(order: WorkOrder) -> events_pb2.WorkOrderCreated:
    return events_pb2.WorkOrderCreated(work_order=work_order_message(order))


def accepted(order: WorkOrder, actor: common_pb2.Actor) -> events_pb2.WorkOrderAccepted:
    assert order.accepted_at is not None, "an accepted order has accepted_at"
    return events_pb2.WorkOrderAccepted(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        actor=actor,
        accepted_at=_ts(order.accepted_at),
    )


def completed(order: WorkOrder, actor: common_pb2.Actor) -> events_pb2.WorkOrderCompleted:
    assert order.completed_at is not None, "a completed order has completed_at"
    return events_pb2.WorkOrderCompleted(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        actor=actor,
        completed_at=_ts(order.completed_at),
        note=order.completion_note,
        evidence=_evidence(order.evidence),
    )


def _ts(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _place(place: Place) -> common_pb2.Place:
    msg = common_pb2.Place(
        district_code=place.district_code,
        street_code=place.street_code,
        grid_code=place.grid_code,
    )
    if place.latitude is not None and place.longitude is not None:
        msg.point.CopyFrom(common_pb2.GeoPoint(latitude=place.latitude, longitude=place.longitude))
    return msg


def _evidence(items: Iterable[Evidence]) -> list[common_pb2.EvidenceRef]:
    return [
        common_pb2.EvidenceRef(
            uri=e.uri, sha256=e.sha256, media_type=e.media_type, size_bytes=e.size_bytes
        )
        for e in items
    ]
