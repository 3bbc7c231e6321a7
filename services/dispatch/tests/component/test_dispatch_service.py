"""Filed cases in, dispatches out; look-ups and the what-if question over gRPC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from nats.aio.client import Client

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from services.dispatch.tests.component.dispatch_component import Start, wait_for_events
from services.dispatch.tests.component.dispatch_component import dispatch_events as published
from services.dispatch.tests.dispatch_testing import IN_D01, IN_D02, filed_case, local, stamp
from svckit.messaging import envelope
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_FILED, CASE_UNROUTABLE
from svckit.reference import DepartmentType
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_envelope


async def publish_filed(
    nc: Client,
    case_id: str,
    category: str,
    district: str,
    point: common_pb2.GeoPoint,
    msg_id: str | None = None,
) -> None:
    env = envelope.wrap(
        filed_case(
            case_id, category, district=district, point=point, urgency=common_pb2.URGENCY_IMMEDIATE
        ),
        service="intake",
        subject=CASE_FILED,
        case_id=case_id,
    )
    await publish_envelope(nc.jetstream(), env, {"Nats-Msg-Id": msg_id} if msg_id else None)


async def test_filed_case_is_dispatched_to_the_right_department_with_its_deadline(
    start_dispatch: Start, nats_client: Client
) -> None:
    running = await start_dispatch()
    await publish_filed(nats_client, "C-1", "E0105", "D02", IN_D02)
    (dispatched,) = await wait_for_events(nats_client, 1)

    assert (dispatched.subject, dispatched.case_id) == (CASE_DISPATCHED, "C-1")
    event = dispatched.message
    assert isinstance(event, dispatch_events.CaseDispatched)
    assert (event.department_id, event.rule_id, event.rule_version) == (
        "D02-transport",
        "transport-default",
        "1",
    )
    assert (event.role, event.attempt, event.lead_department_id) == (
        dispatch_events.DISPATCH_ROLE_LEAD,
        1,
        "D02-transport",
    )
    assert event.title == "E0105 测试案件" and event.urgency == common_pb2.URGENCY_IMMEDIATE
    assert event.place.point == IN_D02 and event.place.district_code == "D02"
    # Monday 11:00 + 24 working hours on the city calendar (09:00–12:00, 13:30–18:00):
    # Mon 5.5 + Tue 7.5 + Wed 7.5 + Thu 09:00–12:00, 13:30–14:00.
    assert event.dispatched_at.ToDatetime(tzinfo=UTC) == local(2026, 3, 2, 11, 0)
    assert event.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 5, 14, 0)

    # The same CaseFiled again under a new Nats-Msg-Id, then a gas leak (round the clock).
    first = envelope.wrap(filed_case("C-1", "E0105"), service="intake", subject=CASE_FILED)
    await publish_envelope(nats_client.jetstream(), first, {"Nats-Msg-Id": "again-C-1"})
    await publish_filed(nats_client, "C-2", "E0403", "D01", IN_D01)
    worker = running.service.runtime.workers[0]

    async def all_handled() -> bool:
        return worker.handled >= 3

    await eventually(all_handled, timeout=15)
    events = await wait_for_events(nats_client, 2)
    assert [e.case_id for e in events] == ["C-1", "C-2"]
    leak = events[1].message
    assert isinstance(leak, dispatch_events.CaseDispatched)
    assert (leak.department_id, leak.rule_id) == ("D01-gas", "gas-leak-emergency")
    assert leak.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 2, 12, 0)

    looked_up = await running.stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))
    assert (looked_up.dispatch_id, looked_up.department_id, looked_up.rule_id) == (
        event.dispatch_id,
        "D02-transport",
        "transport-default",
    )
    assert (looked_up.dispatched_at, looked_up.deadline) == (event.dispatched_at, event.deadline)
    assert looked_up.state == "dispatched" and looked_up.attempt == 1
    for case_id, code in (
        ("C-404", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await running.stub.GetDispatch(pb.GetDispatchRequest(case_id=case_id))
        assert failed.value.code() == code


def water_and_manual(path: Path) -> Path:
    """A catalogue where water routes and every other type is explicitly manual."""
    rules = [
        {
            "id": "water",
            "categories": ["*"],
            "department_type": "water",
            "districts": ["*"],
            "effective_from": "2024-01-01",
        }
    ] + [
        {
            "id": f"{t.value}-manual",
            "categories": ["*"],
            "department_type": t.value,
            "manual": True,
            "districts": ["*"],
            "effective_from": "2024-01-01",
        }
        for t in DepartmentType
        if t is not DepartmentType.WATER
    ]
    document = {
        "version": "test.1",
        "timezone": "Asia/Shanghai",
        "deadlines": {"default": {"dispatch": 1}},
        "rules": rules,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


async def test_a_manual_category_waits_in_the_queue_and_is_dispatched_by_hand(
    start_dispatch: Start, nats_client: Client, tmp_path: Path
) -> None:
    running = await start_dispatch(responsibility_file=water_and_manual(tmp_path / "m.json"))
    stub = running.stub
    await publish_filed(nats_client, "C-7", "E0105", "D02", IN_D02)
    (unroutable,) = await wait_for_events(nats_client, 1)
    assert (unroutable.subject, unroutable.case_id) == (CASE_UNROUTABLE, "C-7")
    assert isinstance(unroutable.message, dispatch_events.CaseUnroutable)
    assert "transport-manual" in unroutable.message.reason
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-7"))
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert "was not dispatched" in (failed.value.details() or "")
    queue = await stub.ListQueue(pb.ListQueueRequest(queue=pb.QUEUE_UNROUTABLE))
    assert [i.case_id for i in queue.items] == ["C-7"]

    request = pb.DispatchManuallyRequest(
        request_id="m-1", case_id="C-7", department_id="D02-transport"
    )
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.DispatchManually(request)
    assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED
    operator = (("x-cityops-user", "op-1"), ("x-cityops-role", "operator"))
    reply = await stub.DispatchManually(request, metadata=operator)
    assert [a.department_id for a in reply.assignments] == ["D02-transport"]
    _, dispatched = await wait_for_events(nats_client, 2)
    assert isinstance(dispatched.message, dispatch_events.CaseDispatched)
    assert (dispatched.message.department_id, dispatched.message.rule_id) == (
        "D02-transport",
        "manual",
    )
    assert not (await stub.ListQueue(pb.ListQueueRequest(queue=pb.QUEUE_UNROUTABLE))).items
    assert len(await published(nats_client)) == 2


async def test_who_would_receive_over_grpc_answers_past_dates_with_the_rule_then_in_force(
    start_dispatch: Start,
) -> None:
    running = await start_dispatch()
    stub = running.stub
    now = await stub.WhoWouldReceive(pb.WhoWouldReceiveRequest(category_code="E0506", point=IN_D02))
    assert (now.department_id, now.rule_id, now.rule_version, now.district_code) == (
        "D02-transport",
        "D02-bike-parking-2026",
        "1",
        "D02",
    )
    assert now.handling_hours == 8
    past = await stub.WhoWouldReceive(
        pb.WhoWouldReceiveRequest(
            category_code="E0506", point=IN_D02, at=stamp(datetime(2025, 6, 1, tzinfo=UTC))
        )
    )
    assert (past.department_id, past.rule_id, past.handling_hours) == (
        "D02-street_office",
        "street_office-default",
        4,
    )
    joint = await stub.WhoWouldReceive(
        pb.WhoWouldReceiveRequest(category_code="E0401", point=IN_D01)
    )
    assert (joint.department_id, list(joint.assist_department_ids)) == (
        "D01-housing",
        ["D01-water", "D01-transport"],
    )
    assert joint.closing_criteria_zh.startswith("塌陷处已回填修复")
    refused = [
        (
            pb.WhoWouldReceiveRequest(category_code="E9999", point=IN_D02),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.WhoWouldReceiveRequest(
                category_code="E0105", point=common_pb2.GeoPoint(latitude=39.9, longitude=116.4)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (pb.WhoWouldReceiveRequest(category_code="E0105"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            pb.WhoWouldReceiveRequest(
                category_code="E0105", point=IN_D01, at=stamp(datetime(2020, 1, 1, tzinfo=UTC))
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]
    for request, code in refused:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.WhoWouldReceive(request)
        assert failed.value.code() == code, request
