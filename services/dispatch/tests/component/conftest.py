"""Dispatch in-process against a real nats-server, with a simulated clock, on a real gRPC channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cityops.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from dispatch.bootstrap import build
from dispatch.config import DispatchSettings
from dispatch.domain.clock import SimulatedClock
from services.dispatch.tests.component.dispatch_component import Running, Start
from services.dispatch.tests.dispatch_testing import local
from svckit.grpc.client import channel
from svckit.natsserver import NatsServer


@pytest.fixture
def clock() -> SimulatedClock:
    """Monday 2026-03-02 11:00 in Shanghai, a working day."""
    return SimulatedClock(local(2026, 3, 2, 11, 0))


@pytest.fixture
async def start_dispatch(
    tmp_path: Path, nats_server: NatsServer, clock: SimulatedClock
) -> AsyncIterator[Start]:
    """Bootstrap and run dispatch (gRPC on an ephemeral port); stopped cleanly after the test.

    Every start uses the same data folder, so a second start is a restart.
    """
    running: list[Running] = []

    async def start(**overrides: Any) -> Running:
        settings = DispatchSettings(
            nats_url=nats_server.url,
            data_dir=tmp_path / "dispatch",
            grpc_port=0,
            timer_poll_seconds=0.05,
            **overrides,
        )
        service = await build(settings, clock=clock)
        task = asyncio.create_task(service.runtime.run())
        assert service.runtime.grpc is not None
        chan = channel(service.runtime.grpc.address)
        await asyncio.wait_for(chan.channel_ready(), timeout=10)
        started = Running(service, pb_grpc.DispatchServiceStub(chan), task, chan)
        running.append(started)
        return started

    yield start
    for item in running:
        if not item.task.done():
            await item.stop()
