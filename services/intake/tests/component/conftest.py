"""The intake service bootstrapped in-process against the test nats-server, with a
real gRPC channel to it: what every component test drives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cityops.intake.v1 import intake_service_pb2_grpc as pb_grpc
from intake.bootstrap import bootstrap
from intake.config import IntakeSettings
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.grpc.client import channel
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime


@dataclass
class Intake:
    runtime: ServiceRuntime[IntakeUnitOfWork]
    stub: pb_grpc.IntakeServiceAsyncStub
    js: JetStreamContext


@pytest.fixture
async def intake(
    tmp_path: Path,
    nats_server: NatsServer,
    nats_client: Client,
    spans: InMemorySpanExporter,
) -> AsyncIterator[Intake]:
    settings = IntakeSettings(nats_url=nats_server.url, data_dir=tmp_path / "intake", grpc_port=0)
    runtime = await bootstrap(settings)
    task = asyncio.create_task(runtime.run())
    assert runtime.grpc is not None
    chan = channel(runtime.grpc.address)
    await asyncio.wait_for(chan.channel_ready(), 10)
    try:
        stub: pb_grpc.IntakeServiceAsyncStub = pb_grpc.IntakeServiceStub(chan)  # type: ignore[assignment]
        yield Intake(runtime, stub, nats_client.jetstream())
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 30)
        await chan.close()
