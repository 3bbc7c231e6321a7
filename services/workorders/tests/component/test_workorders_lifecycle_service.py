"""An order's life through the real entrypoints: dispatch, 督办, 处置 and 延期
(decided by dispatch's event), 反馈, 返工 (audit's event), 退单 and
re-dispatch; remaining time on the order; the department's signed webhooks,
a 500 retried until delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import grpc

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2, work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as api
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.clock import utcnow
from svckit.grpc.identity import Caller
from svckit.messaging.subjects import (
    CASE_ESCALATED,
    CASE_REDISPATCHED,
    CASE_REWORK,
    EXTENSION_DECIDED,
)
from svckit.testing.polling import eventually

from .conftest import Harness

WATER = Caller("u-water", "department_user", "water")
SECRET = "water-webhook-secret-0123"
S = work_order_pb2


def verify(header: str, raw: bytes) -> bool:
    """The receiver's check, from the documented scheme only."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + raw, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


async def start(harness: Harness, tmp_path: Path, url: str) -> api_grpc.WorkOrdersServiceAsyncStub:
    webhooks = tmp_path / "webhooks.yaml"
    webhooks.write_text(
        f"version: 1\ndepartments:\n  water: {{url: '{url}', secret: '{SECRET}'}}\n",
        encoding="utf-8",
    )
    return await harness.start(
        webhooks_file=webhooks, webhook_poll_seconds=0.05, webhook_backoff_base_seconds=0.05
    )


async def order_of(
    stub: api_grpc.WorkOrdersServiceAsyncStub, order_id: str
) -> work_order_pb2.WorkOrder:
    reply = await stub.GetWorkOrder(
        api.GetWorkOrderRequest(order_id=order_id), metadata=WATER.metadata()
    )
    return reply.work_order


async def until(
    stub: api_grpc.WorkOrdersServiceAsyncStub, order_id: str, check: Any
) -> work_order_pb2.WorkOrder:
    async def reached() -> work_order_pb2.WorkOrder | None:
        order = await order_of(stub, order_id)
        return order if check(order) else None

    return await eventually(reached, timeout=15)


def hooks(receiver: Any) -> list[str]:
    return [json.loads(raw)["type"] for _, raw in receiver.received]


async def test_an_order_lives_through_escalation_extension_completion_and_rework(
    harness: Harness, tmp_path: Path, receiver: Any
) -> None:
    stub = await start(harness, tmp_path, receiver.url)
    meta = WATER.metadata()
    deadline = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    order = await harness.dispatch("C-1", "water", deadline=deadline)
    oid = order.order_id
    shown = await order_of(stub, oid)
    assert 0 < shown.remaining_seconds <= 2 * 3600
    # On the city's office hours there is never more working time left than wall-clock time.
    assert 0 <= shown.remaining_working_seconds <= shown.remaining_seconds
    assert (shown.dispatch_id, shown.role, shown.attempt) == ("D-C-1", S.ORDER_ROLE_LEAD, 1)

    # The department hears of the new order; the first post got a 500 and was retried.
    await eventually(lambda: len(receiver.received) >= 2, timeout=15)
    assert hooks(receiver)[:2] == ["workorder.created", "workorder.created"]
    assert all(verify(h["x-cityops-signature"], raw) for h, raw in receiver.received)

    await harness.publish(
        dispatch_events.CaseEscalated(
            case_id="C-1",
            dispatch_id="D-C-1",
            department_id="water",
            kind=dispatch_events.ESCALATION_KIND_WARNING,
            level=1,
            stage="disposal",
        ),
        CASE_ESCALATED,
        "C-1",
    )
    await until(stub, oid, lambda o: o.escalation_level == 1)
    await eventually(lambda: "workorder.escalated" in hooks(receiver), timeout=15)

    await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="a", order_id=oid), metadata=meta
    )
    progress = api.ReportProgressRequest(request_id="p", order_id=oid, note="crew on site")
    assert (
        await stub.ReportProgress(progress, metadata=meta)
    ).work_order.state == S.WORK_ORDER_STATE_IN_PROGRESS
    ask = api.RequestExtensionRequest(
        request_id="x", order_id=oid, requested_hours=24, reason="parts"
    )
    asked = await stub.RequestExtension(ask, metadata=meta)
    assert await stub.RequestExtension(ask, metadata=meta) == asked
    assert asked.work_order.state == S.WORK_ORDER_STATE_EXTENSION_REQUESTED
    assert asked.work_order.HasField("remaining_working_seconds")
    [requested] = await harness.event("cityops.workorders.v1.WorkOrderExtensionRequested", "C-1")
    assert isinstance(requested.message, events_pb2.WorkOrderExtensionRequested)
    ext_id = asked.work_order.pending_extension.extension_id
    assert requested.message.extension_id == ext_id

    new_deadline = deadline + timedelta(hours=24)
    decided = dispatch_events.ExtensionDecided(
        case_id="C-1", dispatch_id="D-C-1", order_id=oid, extension_id=ext_id, approved=True
    )
    decided.new_deadline.FromDatetime(new_deadline)
    await harness.publish(decided, EXTENSION_DECIDED, "C-1")
    resumed = await until(stub, oid, lambda o: o.state == S.WORK_ORDER_STATE_IN_PROGRESS)
    assert resumed.deadline.ToDatetime(tzinfo=UTC) == new_deadline
    assert 24 * 3600 < resumed.remaining_seconds <= 26 * 3600

    external = common_pb2.EvidenceRef(
        uri="https://evidence.example/after.jpg", sha256="a" * 64, media_type="image/jpeg"
    )
    complete = api.CompleteWorkOrderRequest(
        request_id="c", order_id=oid, note="fixed", evidence=[external]
    )
    await stub.CompleteWorkOrder(complete, metadata=meta)

    rework = audit_events.CaseRework(case_id="C-1", verification_id="V-1", note="still leaking")
    await harness.publish(rework, CASE_REWORK, "C-1")
    reopened = await until(stub, oid, lambda o: o.state == S.WORK_ORDER_STATE_REOPENED)
    assert (reopened.rework_count, reopened.reopen_reason) == (1, "still leaking")
    [event] = await harness.event("cityops.workorders.v1.WorkOrderReopened", "C-1")
    assert isinstance(event.message, events_pb2.WorkOrderReopened)
    assert event.message.verification_id == "V-1"
    await eventually(lambda: "workorder.reopened" in hooks(receiver), timeout=15)
    # REOPENED behaves like ACCEPTED.
    again = api.CompleteWorkOrderRequest(
        request_id="c2", order_id=oid, note="redone", evidence=[external]
    )
    assert (await stub.CompleteWorkOrder(again, metadata=meta)).work_order.state == (
        S.WORK_ORDER_STATE_COMPLETED
    )


async def test_a_returned_order_is_redispatched_to_another_department(
    harness: Harness, tmp_path: Path, receiver: Any, status_of: Any
) -> None:
    stub = await start(harness, tmp_path, receiver.url)
    meta = WATER.metadata()
    order = await harness.dispatch("C-2", "water")
    ret = api.ReturnWorkOrderRequest(
        request_id="r",
        order_id=order.order_id,
        reason=S.RETURN_REASON_OUTSIDE_JURISDICTION,
        note="道路归交通",
    )
    first = await stub.ReturnWorkOrder(ret, metadata=meta)
    assert await stub.ReturnWorkOrder(ret, metadata=meta) == first  # a retry, replayed
    assert first.work_order.state == S.WORK_ORDER_STATE_RETURNED
    assert first.work_order.return_reason == S.RETURN_REASON_OUTSIDE_JURISDICTION
    [returned] = await harness.event("cityops.workorders.v1.WorkOrderReturned", "C-2")
    assert isinstance(returned.message, events_pb2.WorkOrderReturned)
    assert (returned.message.dispatch_id, returned.message.note) == ("D-C-2", "道路归交通")
    no_reason = api.ReturnWorkOrderRequest(request_id="r2", order_id=order.order_id)
    assert await status_of(stub.ReturnWorkOrder(no_reason, metadata=meta)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    accept = api.AcceptWorkOrderRequest(request_id="a", order_id=order.order_id)
    assert await status_of(stub.AcceptWorkOrder(accept, metadata=meta)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )

    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatch_events.CaseDispatched(
            case_id="C-2",
            dispatch_id="D-C-2-2",
            department_id="roads",
            category_code="E0105",
            title="Water main leak",
            role=dispatch_events.DISPATCH_ROLE_LEAD,
            attempt=2,
        ),
        previous_department_id="water",
        previous_dispatch_id="D-C-2",
        reason="returned",
    )
    await harness.publish(redispatch, CASE_REDISPATCHED, "C-2")
    created = await harness.event("cityops.workorders.v1.WorkOrderCreated", "C-2", count=2)
    new = created[1].message
    assert isinstance(new, events_pb2.WorkOrderCreated)
    assert (new.work_order.department_id, new.work_order.attempt) == ("roads", 2)
    assert (await order_of(stub, order.order_id)).state == S.WORK_ORDER_STATE_RETURNED
    assert len(await harness.events("cityops.workorders.v1.WorkOrderReturned")) == 1
    # A returned order is not cancelled: its return is why the case moved.
    assert await harness.events("cityops.workorders.v1.WorkOrderCancelled") == []


async def test_a_redispatch_away_from_a_working_order_cancels_it_on_the_stream(
    harness: Harness, status_of: Any
) -> None:
    stub = await harness.start()
    meta = WATER.metadata()
    order = await harness.dispatch("C-3", "water")
    await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="a", order_id=order.order_id), metadata=meta
    )
    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatch_events.CaseDispatched(
            case_id="C-3",
            dispatch_id="D-C-3-2",
            department_id="roads",
            category_code="E0105",
            role=dispatch_events.DISPATCH_ROLE_LEAD,
            attempt=2,
        ),
        previous_department_id="water",
        previous_dispatch_id="D-C-3",
        reason="arbitration: roads",
    )
    await harness.publish(redispatch, CASE_REDISPATCHED, "C-3")
    [event] = await harness.event("cityops.workorders.v1.WorkOrderCancelled", "C-3")
    assert event.subject == "cityops.workorders.workorder.cancelled"
    cancelled = event.message
    assert isinstance(cancelled, events_pb2.WorkOrderCancelled)
    assert (cancelled.order_id, cancelled.department_id, cancelled.reason) == (
        order.order_id,
        "water",
        "arbitration: roads",
    )
    assert (cancelled.previous_state, cancelled.superseded_by_dispatch_id) == (
        S.WORK_ORDER_STATE_ACCEPTED,
        "D-C-3-2",
    )
    shown = await order_of(stub, order.order_id)
    assert (shown.state, shown.cancel_reason) == (S.WORK_ORDER_STATE_CANCELLED, cancelled.reason)
    assert shown.cancelled_at == cancelled.cancelled_at
    progress = api.ReportProgressRequest(request_id="p", order_id=order.order_id, note="还在修")
    assert await status_of(stub.ReportProgress(progress, metadata=meta)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


async def test_working_time_left_is_counted_on_the_departments_own_calendar(
    harness: Harness,
) -> None:
    """燃气抢修 (the gas departments) works round the clock: its working time is the wall clock."""
    stub = await harness.start()
    gas = Caller("u-gas", "department_user", "D01-gas")
    deadline = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    order = await harness.dispatch("C-9", "D01-gas", deadline=deadline)
    shown = await stub.GetWorkOrder(
        api.GetWorkOrderRequest(order_id=order.order_id), metadata=gas.metadata()
    )
    listed = await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=gas.metadata())
    accepted = await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="a", order_id=order.order_id),
        metadata=gas.metadata(),
    )
    for seen in (shown.work_order, listed.work_orders[0], accepted.work_order):
        assert seen.remaining_working_seconds == seen.remaining_seconds > 2 * 86_400
