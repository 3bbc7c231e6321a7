"""workorders bootstrapped in-process against a real nats-server: a harness
that starts it (with settings per test), talks gRPC on loopback, publishes
other services' events on JetStream and reads back what workorders published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from grpc import aio
from nats.aio.client import Client
from nats.js import JetStreamContext

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2, work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.grpc.client import channel
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event, stream_events
from workorders.bootstrap import bootstrap
from workorders.config import WorkOrdersSettings
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

CASE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CREATED = "cityops.workorders.v1.WorkOrderCreated"
LAT, LON = 31.2304, 121.4737


@dataclass
class Harness:
    """One running workorders and the JetStream it lives on."""

    tmp_path: Path
    nats_url: str
    js: JetStreamContext
    runtime: ServiceRuntime[WorkOrdersUnitOfWork] | None = None
    stub: api_grpc.WorkOrdersServiceAsyncStub | None = None
    _task: asyncio.Task[None] | None = None
    _channel: aio.Channel | None = None
    _cases: list[str] = field(default_factory=list)

    async def start(self, **settings: Any) -> api_grpc.WorkOrdersServiceAsyncStub:
        config = WorkOrdersSettings(
            nats_url=self.nats_url, data_dir=self.tmp_path / "workorders", grpc_port=0, **settings
        )
        self.runtime = await bootstrap(config)
        self._task = asyncio.create_task(self.runtime.run())
        assert self.runtime.grpc is not None
        self._channel = channel(self.runtime.grpc.address)
        await asyncio.wait_for(self._channel.channel_ready(), 10)
        self.stub = api_grpc.WorkOrdersServiceStub(self._channel)  # type: ignore[assignment]
        assert self.stub is not None
        return self.stub

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self.runtime is not None and self._task is not None:
            self.runtime.request_stop()
            await asyncio.wait_for(self._task, 20)

    async def publish(self, message: Message, subject: str, case_id: str) -> None:
        """As the producing service's relay would."""
        await publish_event(
            self.js,
            message,
            subject,
            case_id=case_id,
            trace_headers={"traceparent": CASE_TRACEPARENT},
        )

    async def events(self, event_type: str = "") -> list[IncomingEvent]:
        """Everything on the WORKORDERS stream so far, decoded."""
        found = await stream_events(self.js, "WORKORDERS")
        return [e for e in found if not event_type or e.type == event_type]

    async def event(self, event_type: str, case_id: str, count: int = 1) -> list[IncomingEvent]:
        """Wait until `count` events of the type exist for the case; return them."""

        async def found() -> list[IncomingEvent] | None:
            hits = [e for e in await self.events(event_type) if e.case_id == case_id]
            return hits if len(hits) >= count else None

        return await eventually(found, timeout=15)

    async def dispatch(
        self,
        case_id: str,
        department: str,
        *,
        dispatch_id: str = "",
        category: str = "E0105",
        deadline: datetime | None = None,
    ) -> work_order_pb2.WorkOrder:
        """Dispatch a case to a department; the order workorders announces."""
        msg = dispatch_events.CaseDispatched(
            case_id=case_id,
            dispatch_id=dispatch_id or f"D-{case_id}",
            department_id=department,
            category_code=category,
            title="Water main leak",
            place=common_pb2.Place(
                point=common_pb2.GeoPoint(latitude=LAT, longitude=LON), district_code="D01"
            ),
            role=dispatch_events.DISPATCH_ROLE_LEAD,
            attempt=1,
        )
        if deadline is not None:
            msg.deadline.FromDatetime(deadline)
        await self.publish(msg, CASE_DISPATCHED, case_id)
        [created] = await self.event(CREATED, case_id)
        assert isinstance(created.message, events_pb2.WorkOrderCreated)
        return created.message.work_order


@pytest.fixture
async def harness(
    tmp_path: Path, nats_server: NatsServer, nats_client: Client
) -> AsyncIterator[Harness]:
    running = Harness(tmp_path, nats_server.url, nats_client.jetstream())
    try:
        yield running
    finally:
        await running.stop()


async def code_of(call: object) -> grpc.StatusCode:
    """The status a call fails with (it must fail)."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value.code()


@pytest.fixture
def status_of() -> Any:
    return code_of
