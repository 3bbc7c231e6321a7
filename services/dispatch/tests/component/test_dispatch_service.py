"""Dispatch in-process against a real nats-server, driven by CaseFiled events and gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from dispatch.bootstrap import bootstrap
from dispatch.config import DispatchSettings
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.grpc.client import channel
from svckit.messaging import envelope
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_FILED, CASE_UNROUTABLE
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_envelope, stream_events

IN_D01 = common_pb2.GeoPoint(latitude=31.235, longitude=121.544)
IN_D02 = common_pb2.GeoPoint(latitude=31.23, longitude=121.45)

# start(**settings) -> (runtime, DispatchService stub on a real channel)
Start = Callable[..., Awaitable[tuple[ServiceRuntime[DispatchUnitOfWork], Any]]]


@pytest.fixture
async def start_dispatch(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[Start]:
    """Bootstrap and run dispatch (gRPC on an ephemeral port); stopped cleanly after the test."""
    running: list[
        tuple[ServiceRuntime[DispatchUnitOfWork], asyncio.Task[None], grpc.aio.Channel]
    ] = []

    async def start(**overrides: Any) -> tuple[ServiceRuntime[DispatchUnitOfWork], Any]:
        settings = DispatchSettings(
            nats_url=nats_server.url, data_dir=tmp_path / "dispatch", grpc_port=0, **overrides
        )
        runtime = await bootstrap(settings)
        task = asyncio.create_task(runtime.run())
        assert runtime.grpc is not None
        chan = channel(runtime.grpc.address)
        running.append((runtime, task, chan))
        await asyncio.wait_for(chan.channel_ready(), timeout=10)
        return runtime, pb_grpc.DispatchServiceStub(chan)

    yield start
    for runtime, task, chan in running:
        await chan.close()
        runtime.request_stop()
        await asyncio.wait_for(task, timeout=30)


def case_filed(case_id: str, category: str, district: str, point: common_pb2.GeoPoint) -> Any:
    case = case_pb2.Case(
        case_id=case_id,
        category_code=category,
        title=f"{category} 测试案件",
        place=common_pb2.Place(point=point, district_code=district, grid_code=f"{district}S01G01"),
        urgency=common_pb2.URGENCY_IMMEDIATE,
        state=case_pb2.CASE_STATE_FILED,
    )
    return envelope.wrap(
        intake_events.CaseFiled(case=case), service="intake", subject=CASE_FILED, case_id=case_id
    )


async def publish(nc: Client, env: envelope.Envelope, msg_id: str | None = None) -> None:
    # A msg_id: a republish past JetStream's duplicate window.
    await publish_envelope(nc.jetstream(), env, {"Nats-Msg-Id": msg_id} if msg_id else None)


async def dispatch_events_published(nc: Client) -> list[IncomingEvent]:
    return await stream_events(nc.jetstream(), "DISPATCH")


async def wait_for_events(nc: Client, count: int) -> list[IncomingEvent]:
    async def enough() -> bool:
        return len(await dispatch_events_published(nc)) >= count

    await eventually(enough, timeout=15)
    return await dispatch_events_published(nc)


def at(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_filed_case_is_dispatched_once_and_can_be_looked_up(
    start_dispatch: Start, nats_client: Client
) -> None:
    runtime, stub = await start_dispatch()
    first = case_filed("C-1", "E0105", "D02", IN_D02)
    await publish(nats_client, first)
    (dispatched,) = await wait_for_events(nats_client, 1)

    assert (dispatched.subject, dispatched.case_id) == (CASE_DISPATCHED, "C-1")
    event = dispatched.message
    assert isinstance(event, dispatch_events.CaseDispatched)
    assert (event.department_id, event.rule_id, event.rule_version) == (
        "D02-transport",
        "transport-default",
        "2026.1",
    )
    assert event.title == "E0105 测试案件" and event.urgency == common_pb2.URGENCY_IMMEDIATE
    assert event.place.grid_code == "D02S01G01" and event.place.point == IN_D02
    dispatched_at = event.dispatched_at.ToDatetime(tzinfo=UTC)
    assert event.deadline.ToDatetime(tzinfo=UTC) - dispatched_at == timedelta(hours=24)

    # The same CaseFiled again under a new Nats-Msg-Id (same ce-id), then another case.
    await publish(nats_client, first, msg_id="redelivered-C-1")
    await publish(nats_client, case_filed("C-2", "E0403", "D01", IN_D01))
    await wait_for_events(nats_client, 2)
    worker = runtime.workers[0]

    async def all_handled() -> bool:
        return worker.handled == 3

    await eventually(all_handled, timeout=15)
    events = await dispatch_events_published(nats_client)
    assert [e.case_id for e in events] == ["C-1", "C-2"]
    leak = events[1].message
    assert isinstance(leak, dispatch_events.CaseDispatched)
    assert (leak.department_id, leak.rule_id) == ("D01-gas", "gas-leak-emergency")
    assert leak.deadline.ToDatetime() - leak.dispatched_at.ToDatetime() == timedelta(hours=1)

    looked_up = await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))
    assert (looked_up.dispatch_id, looked_up.department_id, looked_up.rule_id) == (
        event.dispatch_id,
        "D02-transport",
        "transport-default",
    )
    assert (looked_up.dispatched_at, looked_up.deadline) == (event.dispatched_at, event.deadline)
    for case_id, code in (
        ("C-404", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.GetDispatch(pb.GetDispatchRequest(case_id=case_id))
        assert failed.value.code() == code


async def test_case_no_rule_covers_is_published_unroutable(
    start_dispatch: Start, nats_client: Client, tmp_path: Path
) -> None:
    rules = tmp_path / "water-only.yaml"
    rules.write_text(
        'version: "test.1"\ntimezone: Asia/Shanghai\nrules:\n'
        '  - {id: water, categories: ["*"], department_type: water, districts: ["*"],'
        " effective_from: 2024-01-01}\n",
        encoding="utf-8",
    )
    _, stub = await start_dispatch(responsibility_file=rules)
    await publish(nats_client, case_filed("C-7", "E0105", "D02", IN_D02))
    (unroutable,) = await wait_for_events(nats_client, 1)

    assert (unroutable.subject, unroutable.case_id) == (CASE_UNROUTABLE, "C-7")
    event = unroutable.message
    assert isinstance(event, dispatch_events.CaseUnroutable)
    assert event.category_code == "E0105"
    assert event.reason.startswith("no responsibility rule (version test.1) covers E0105 in D02")
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-7"))
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert "was not dispatched" in (failed.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.WhoWouldReceive(pb.WhoWouldReceiveRequest(category_code="E0105", point=IN_D02))
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND


async def test_who_would_receive_over_grpc(start_dispatch: Start) -> None:
    _, stub = await start_dispatch()
    now = await stub.WhoWouldReceive(pb.WhoWouldReceiveRequest(category_code="E0506", point=IN_D02))
    assert (now.department_id, now.rule_id, now.rule_version, now.district_code) == (
        "D02-transport",
        "D02-bike-parking-2026",
        "2026.1",
        "D02",
    )
    assert now.handling_hours == 8
    past = await stub.WhoWouldReceive(
        pb.WhoWouldReceiveRequest(
            category_code="E0506", point=IN_D02, at=at(datetime(2025, 6, 1, tzinfo=UTC))
        )
    )
    assert (past.department_id, past.rule_id, past.handling_hours) == (
        "D02-street_office",
        "street_office-default",
        4,
    )
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
                category_code="E0105", point=IN_D01, at=at(datetime(2020, 1, 1, tzinfo=UTC))
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]
    for request, code in refused:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.WhoWouldReceive(request)
        assert failed.value.code() == code, request
