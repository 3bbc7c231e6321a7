"""Domain ⇄ protobuf mapping: what arrives from dispatch and what leaves as events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import work_order_pb2
from svckit.grpc.identity import Caller
from workorders.adapters import integration_events as ie
from workorders.adapters import messages
from workorders.domain.evidence import (
    EvidenceItem,
    EvidenceKind,
    Flag,
    FlagCode,
    PhotoMetadata,
)
from workorders.domain.model import Evidence, OrderRole, OrderState, ReturnReason, WorkOrder

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
WATER = Caller("u-1", "department_user", "water")


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


def new_order(**overrides: object) -> WorkOrder:
    return WorkOrder.from_dispatch(
        ie.dispatch_from_event(dispatched(**overrides), TRACEPARENT), order_id="WO-1", now=NOW
    )


def test_dispatch_event_to_order_and_back_keeps_every_field() -> None:
    order = new_order(
        role=dispatch_events.DISPATCH_ROLE_ASSIST, attempt=3, lead_department_id="roads"
    )
    assert order.case_traceparent == TRACEPARENT
    assert (order.role, order.attempt) == (OrderRole.ASSIST, 3)
    msg = messages.work_order_message(order)
    assert msg.state == work_order_pb2.WORK_ORDER_STATE_CREATED
    assert (msg.order_id, msg.case_id, msg.department_id, msg.category_code) == (
        "WO-1",
        "C-1",
        "water",
        "E0105",
    )
    assert (msg.dispatch_id, msg.role, msg.attempt, msg.lead_department_id) == (
        "D-1",
        work_order_pb2.ORDER_ROLE_ASSIST,
        3,
        "roads",
    )
    assert msg.place.point.latitude == 31.2 and msg.place.grid_code == "G-7"
    assert msg.deadline.ToDatetime(tzinfo=UTC) == datetime(2025, 3, 3, tzinfo=UTC)
    assert msg.created_at.ToDatetime(tzinfo=UTC) == NOW
    assert not msg.HasField("accepted_at") and not msg.HasField("completed_at")
    # Events never carry remaining time (it would be stale in the log); responses do.
    assert not msg.HasField("remaining_seconds")
    at = messages.work_order_message(order, now=datetime(2025, 3, 2, tzinfo=UTC))
    assert at.remaining_seconds == 86_400
    late = messages.work_order_message(order, now=datetime(2025, 3, 3, 1, tzinfo=UTC))
    assert late.remaining_seconds == -3600


def test_a_dispatch_without_role_attempt_place_or_deadline() -> None:
    msg = dispatched()
    msg.ClearField("place")
    msg.ClearField("deadline")
    order = WorkOrder.from_dispatch(ie.dispatch_from_event(msg, ""), order_id="WO-2", now=NOW)
    assert order.place is None and order.deadline is None
    assert (order.role, order.attempt) == (OrderRole.LEAD, 1)
    out = messages.work_order_message(order, now=NOW)
    assert not out.HasField("place") and not out.HasField("deadline")
    assert not out.HasField("remaining_seconds")


def test_every_state_reason_and_kind_has_a_proto_value_both_ways() -> None:
    assert set(messages.STATE_TO_PROTO) == set(OrderState)
    assert set(messages.REASON_TO_PROTO) == set(ReturnReason)
    assert set(messages.KIND_TO_PROTO) == set(EvidenceKind)
    for state, value in messages.STATE_TO_PROTO.items():
        assert messages.STATE_FROM_PROTO[value] is state
        assert work_order_pb2.WorkOrderState.Name(value).endswith(state.name)


def test_completed_event_carries_actor_note_hashes_and_flags() -> None:
    order = new_order()
    order.accept(WATER, NOW)
    item = EvidenceItem(
        evidence_id="EV-1",
        order_id="WO-1",
        case_id="C-1",
        department_id="water",
        kind=EvidenceKind.AFTER_PHOTO,
        file_name="after.jpg",
        media_type="image/jpeg",
        size_bytes=9,
        sha256="d" * 64,
        bucket="cityops-evidence",
        key="WO-1/EV-1",
        uploaded_at=NOW,
        uploaded_by="u-1",
        metadata=PhotoMetadata(NOW - timedelta(minutes=5), 31.2, 121.5),
        flags=(Flag(FlagCode.LOCATION_MISMATCH, "900 m"),),
    )
    order.complete(
        WATER,
        NOW,
        note="fixed",
        evidence=(Evidence("https://e.example/1", "c" * 64, "image/jpeg", 9),),
        uploads=[item],
    )
    event = ie.completed(order, WATER.to_actor(), [item])
    assert event.actor.user_id == "u-1"
    assert event.actor.role == common_pb2.ACTOR_ROLE_DEPARTMENT_USER
    assert event.note == "fixed"
    assert [(e.uri, e.sha256) for e in event.evidence] == [
        ("nats-os://cityops-evidence/WO-1/EV-1", "d" * 64),
        ("https://e.example/1", "c" * 64),
    ]
    [shown] = event.evidence_items
    assert shown.kind == work_order_pb2.EVIDENCE_KIND_AFTER_PHOTO
    assert [(f.code, f.detail) for f in shown.flags] == [("location_mismatch", "900 m")]
    assert shown.captured_point.latitude == 31.2
    assert shown.captured_at.ToDatetime(tzinfo=UTC) == NOW - timedelta(minutes=5)
    assert (event.dispatch_id, event.role) == ("D-1", work_order_pb2.ORDER_ROLE_LEAD)


def test_every_event_of_an_assisting_order_says_so() -> None:
    order = new_order(role=dispatch_events.DISPATCH_ROLE_ASSIST, attempt=2)
    actor = WATER.to_actor()
    order.accept(WATER, NOW)
    accepted = ie.accepted(order, actor)
    order.report_progress(WATER, NOW, note="on site")
    progressed = ie.progressed(order, actor, [])
    ext = order.request_extension(WATER, NOW, extension_id="EXT-1", hours=4, reason="rain")
    requested = ie.extension_requested(order, actor, ext)
    order.decide_extension("EXT-1", approved=False, new_deadline=None)
    order.complete(WATER, NOW, note="done", evidence=())
    completed = ie.completed(order, actor)
    order.reopen(NOW, reason="again")
    reopened = ie.reopened(order, "V-1")
    returned_order = new_order(role=dispatch_events.DISPATCH_ROLE_ASSIST)
    returned_order.return_order(WATER, NOW, reason=ReturnReason.DUPLICATE, note="")
    returned = ie.returned(returned_order, actor)
    for event in (accepted, progressed, requested, completed, reopened, returned):
        assert event.role == work_order_pb2.ORDER_ROLE_ASSIST, type(event).__name__
    for event in (accepted, progressed, completed, reopened, returned):
        assert event.dispatch_id == "D-1", type(event).__name__
