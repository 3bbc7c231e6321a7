"""workorders bootstrapped in-process against a real nats-server, driven through
its real entrypoints: CaseDispatched events on DISPATCH and gRPC on loopback
(the harness is in conftest)."""

from __future__ import annotations

import grpc
import pytest
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2, work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as api
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent, wrap
from svckit.messaging.subjects import CASE_DISPATCHED
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_envelope, stream_events

from .conftest import Harness, code_of

WATER = Caller("u-water", "department_user", "water")
ROADS = Caller("u-roads", "department_user", "roads")
OPERATOR = Caller("u-op", "operator")
CASE_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CASE_SPAN_ID = "00f067aa0ba902b7"
CASE_TRACEPARENT = f"00-{CASE_TRACE_ID}-{CASE_SPAN_ID}-01"
SHA = "0123456789abcdef" * 4
CREATED = "cityops.workorders.v1.WorkOrderCreated"
ACCEPTED = "cityops.workorders.v1.WorkOrderAccepted"
COMPLETED = "cityops.workorders.v1.WorkOrderCompleted"


@pytest.fixture
async def stub(harness: Harness) -> api_grpc.WorkOrdersServiceAsyncStub:
    return await harness.start()


@pytest.fixture
def js(harness: Harness) -> JetStreamContext:
    return harness.js


def dispatched(dispatch_id: str, case_id: str, department: str) -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(
        case_id=case_id,
        dispatch_id=dispatch_id,
        department_id=department,
        category_code="E0105",
        title="Water main leak",
        place=common_pb2.Place(point=common_pb2.GeoPoint(latitude=31.23, longitude=121.47)),
    )


async def publish(
    js: JetStreamContext, msg: dispatch_events.CaseDispatched, *, ce_id: str = ""
) -> str:
    """As dispatch would publish it (returns the event id); a given ce_id
    republishes that same event under a new Nats-Msg-Id."""
    env = wrap(
        msg,
        service="dispatch",
        subject=CASE_DISPATCHED,
        case_id=msg.case_id,
        trace_headers={"traceparent": CASE_TRACEPARENT},
    )
    sent = await publish_envelope(js, env, {"ce-id": ce_id} if ce_id else None)
    return sent["ce-id"]


async def events(js: JetStreamContext, event_type: str = "") -> list[IncomingEvent]:
    """Everything on the WORKORDERS stream so far, decoded."""
    out = await stream_events(js, "WORKORDERS")
    return [e for e in out if not event_type or e.type == event_type]


async def created_order(
    js: JetStreamContext, dispatch_id: str, department: str
) -> work_order_pb2.WorkOrder:
    """Dispatch a case to a department and wait for its order to be announced."""
    case_id = f"C-{dispatch_id}"
    await publish(js, dispatched(dispatch_id, case_id, department))
    return await announced_order(js, case_id)


async def announced_order(js: JetStreamContext, case_id: str) -> work_order_pb2.WorkOrder:
    """The one order announced on WORKORDERS for this case, once it appears."""

    async def announced() -> list[IncomingEvent]:
        return [e for e in await events(js, CREATED) if e.case_id == case_id]

    await eventually(announced, timeout=15)
    [event] = await announced()
    assert isinstance(event.message, events_pb2.WorkOrderCreated)
    return event.message.work_order


async def test_a_dispatch_makes_one_order_however_often_it_is_delivered(
    stub: api_grpc.WorkOrdersServiceAsyncStub,
    js: JetStreamContext,
) -> None:
    original = dispatched("D-1", "C-D-1", "water")
    ce_id = await publish(js, original)
    order = await announced_order(js, "C-D-1")
    assert order.state == work_order_pb2.WORK_ORDER_STATE_CREATED
    assert (order.case_id, order.department_id, order.title) == (
        "C-D-1",
        "water",
        "Water main leak",
    )
    assert order.place.point.latitude == 31.23
    # Redelivered: the same event again (same ce-id, past JetStream's de-duplication),
    # and dispatch republishing it under a new event id; then a sentinel behind them.
    await publish(js, original, ce_id=ce_id)
    await publish(js, original)
    await created_order(js, "D-2", "roads")
    assert [e.case_id for e in await events(js, CREATED)] == ["C-D-1", "C-D-2"]
    listed = await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=OPERATOR.metadata())
    assert sorted(o.case_id for o in listed.work_orders) == ["C-D-1", "C-D-2"]
    own = await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=WATER.metadata())
    assert [o.order_id for o in own.work_orders] == [order.order_id]


async def test_the_owning_department_accepts_and_completes_linked_to_the_case_trace(
    stub: api_grpc.WorkOrdersServiceAsyncStub,
    js: JetStreamContext,
    spans: InMemorySpanExporter,
) -> None:
    order = await created_order(js, "D-1", "water")
    meta = WATER.metadata()
    early = api.CompleteWorkOrderRequest(request_id="c-0", order_id=order.order_id, note="done")
    assert (
        await code_of(stub.CompleteWorkOrder(early, metadata=meta))
        == grpc.StatusCode.FAILED_PRECONDITION
    )

    accept = api.AcceptWorkOrderRequest(request_id="a-1", order_id=order.order_id)
    first = await stub.AcceptWorkOrder(accept, metadata=meta)
    retried = await stub.AcceptWorkOrder(accept, metadata=meta)
    assert first.work_order.state == work_order_pb2.WORK_ORDER_STATE_ACCEPTED
    assert retried == first
    again = api.AcceptWorkOrderRequest(request_id="a-2", order_id=order.order_id)
    assert (
        await code_of(stub.AcceptWorkOrder(again, metadata=meta))
        == grpc.StatusCode.FAILED_PRECONDITION
    )

    evidence = common_pb2.EvidenceRef(
        uri="s3://evidence/1.jpg", sha256=SHA, media_type="image/jpeg", size_bytes=5
    )
    complete = api.CompleteWorkOrderRequest(
        request_id="c-1", order_id=order.order_id, note="valve replaced", evidence=[evidence]
    )
    done = await stub.CompleteWorkOrder(complete, metadata=meta)
    assert done.work_order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
    assert done.work_order.completion_note == "valve replaced"

    await eventually(lambda: events(js, COMPLETED), timeout=15)
    [accepted] = await events(js, ACCEPTED)  # the retry published nothing
    assert isinstance(accepted.message, events_pb2.WorkOrderAccepted)
    assert accepted.case_id == order.case_id
    assert (accepted.message.actor.user_id, accepted.message.actor.department_id) == (
        "u-water",
        "water",
    )
    assert accepted.message.actor.role == common_pb2.ACTOR_ROLE_DEPARTMENT_USER
    [completed] = await events(js, COMPLETED)
    assert isinstance(completed.message, events_pb2.WorkOrderCompleted)
    assert completed.message.actor.user_id == "u-water"
    assert completed.message.note == "valve replaced"
    assert list(completed.message.evidence) == [evidence]

    # Three accept spans: the first accept, its replay, and the refused second accept.
    accepts = [s for s in spans.get_finished_spans() if s.name == "workorders.accept"]
    assert [bool((s.attributes or {}).get("cityops.replayed")) for s in accepts] == [
        False,
        True,
        False,
    ]
    assert [s.status.status_code for s in accepts][2] is StatusCode.ERROR
    span = accepts[0]
    assert span.attributes is not None and span.attributes["cityops.case_id"] == order.case_id
    linked = {
        (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x"))
        for link in span.links
    }
    assert (CASE_TRACE_ID, CASE_SPAN_ID) in linked
    # The accept is its own trace (a person acting later), and its event carries it on.
    own_trace = format(span.context.trace_id, "032x")
    assert own_trace != CASE_TRACE_ID and own_trace in accepted.traceparent


async def test_other_departments_and_anonymous_callers_change_nothing(
    stub: api_grpc.WorkOrdersServiceAsyncStub,
    js: JetStreamContext,
) -> None:
    order = await created_order(js, "D-1", "water")
    oid = order.order_id
    roads = ROADS.metadata()
    get = api.GetWorkOrderRequest(order_id=oid)
    assert await code_of(stub.GetWorkOrder(get, metadata=roads)) == grpc.StatusCode.NOT_FOUND
    accept = api.AcceptWorkOrderRequest(request_id="r-1", order_id=oid)
    assert (
        await code_of(stub.AcceptWorkOrder(accept, metadata=roads))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    complete = api.CompleteWorkOrderRequest(request_id="r-2", order_id=oid, note="not ours")
    assert (
        await code_of(stub.CompleteWorkOrder(complete, metadata=roads))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=roads)
    ).work_orders == []
    operator_accept = api.AcceptWorkOrderRequest(request_id="r-3", order_id=oid)
    assert (
        await code_of(stub.AcceptWorkOrder(operator_accept, metadata=OPERATOR.metadata()))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert await code_of(stub.GetWorkOrder(get)) == grpc.StatusCode.UNAUTHENTICATED
    assert await code_of(stub.AcceptWorkOrder(accept)) == grpc.StatusCode.UNAUTHENTICATED

    water = WATER.metadata()
    unchanged = await stub.GetWorkOrder(get, metadata=water)
    assert unchanged.work_order == order

    no_id = api.AcceptWorkOrderRequest(order_id=oid)
    assert (
        await code_of(stub.AcceptWorkOrder(no_id, metadata=water))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="w-1", order_id=oid), metadata=water
    )
    no_note = api.CompleteWorkOrderRequest(request_id="w-2", order_id=oid, note=" ")
    assert (
        await code_of(stub.CompleteWorkOrder(no_note, metadata=water))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    bad_hash = api.CompleteWorkOrderRequest(
        request_id="w-3",
        order_id=oid,
        note="done",
        evidence=[common_pb2.EvidenceRef(uri="s3://e/1.jpg", sha256="not-a-hash")],
    )
    assert (
        await code_of(stub.CompleteWorkOrder(bad_hash, metadata=water))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    still = await stub.GetWorkOrder(get, metadata=OPERATOR.metadata())
    assert still.work_order.state == work_order_pb2.WORK_ORDER_STATE_ACCEPTED
    assert await events(js, COMPLETED) == []
    assert len(await events(js, ACCEPTED)) == 1
