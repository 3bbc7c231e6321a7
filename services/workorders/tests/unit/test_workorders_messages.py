"""Domain ⇄ protobuf mapping: what arrives from dispatch and what leaves as events."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import work_order_pb2
from svckit.grpc.identity import Caller
from workorders.adapters import integration_events as ie
from workorders.domain.model import Evidence, OrderState, WorkOrder

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def dispatched(**overrides: object) -> dispatch_events.CaseDispatched:
    deadline = Timestamp()
    deadline.FromDatetime(datetime(2025, 3, 3, tzinfo=UTC))
    fields: dict[str, object] = {
        "case_id": "C-1",
        "dispatch_id": "D-1",
        "department_id": "water",
        "category_code": "E0105",
        "title": "Burst main",
        "place": common_pb2.Place(
            point=common_pb2.GeoPoint(latitude=31.2, longitude=121.5), grid_code="G-7"
        ),
        "deadline": deadline,
    }
    fields.update(overrides)
    return dispatch_events.CaseDispatched(**fields)  # type: ignore[arg-type]


def test_dispatch_event_to_order_and_back_keeps_every_field() -> None:
    dispatch = ie.dispatch_from_event(dispatched(), TRACEPARENT)
    order = WorkOrder.from_dispatch(dispatch, order_id="WO-1", now=NOW)
    assert order.case_traceparent == TRACEPARENT
    msg = ie.work_order_message(order)
    assert msg.state == work_order_pb2.WORK_ORDER_STATE_CREATED
    assert (msg.order_id, msg.case_id, msg.department_id, msg.category_code) == (
        "WO-1",
        "C-1",
        "water",
        "E0105",
    )
    assert msg.place.point.latitude == 31.2 and msg.place.grid_code == "G-7"
    assert msg.deadline.ToDatetime(tzinfo=UTC) == datetime(2025, 3, 3, tzinfo=UTC)
    assert msg.created_at.ToDatetime(tzinfo=UTC) == NOW
    assert not msg.HasField("accepted_at") and not msg.HasField("completed_at")


def test_a_dispatch_without_place_or_deadline_leaves_them_unset() -> None:
    msg = dispatched()
    msg.ClearField("place")
    msg.ClearField("deadline")
    order = WorkOrder.from_dispatch(ie.dispatch_from_event(msg, ""), order_id="WO-2", now=NOW)
    assert order.place is None and order.deadline is None
    out = ie.work_order_message(order)
    assert not out.HasField("place") and not out.HasField("deadline")


def test_completed_event_carries_actor_note_and_evidence() -> None:
    caller = Caller("u-1", "department_user", "water")
    order = WorkOrder.from_dispatch(
        ie.dispatch_from_event(dispatched(), TRACEPARENT), order_id="WO-1", now=NOW
    )
    order.accept(caller, NOW)
    order.complete(
        caller, NOW, note="fixed", evidence=(Evidence("s3://e/1", "c" * 64, "image/jpeg", 9),)
    )
    event = ie.completed(order, caller.to_actor())
    assert event.actor.user_id == "u-1"
    assert event.actor.role == common_pb2.ACTOR_ROLE_DEPARTMENT_USER
    assert event.note == "fixed" and event.evidence[0].sha256 == "c" * 64
    assert ie.STATE_FROM_PROTO[ie.work_order_message(order).state] is OrderState.COMPLETED
