"""Helpers of dispatch's component tests: a running service, and the DISPATCH stream as read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from nats.aio.client import Client

from dispatch.bootstrap import DispatchService
from svckit.messaging.envelope import IncomingEvent
from svckit.testing.polling import eventually
from svckit.testing.streams import stream_events


@dataclass
class Running:
    service: DispatchService
    stub: Any
    task: asyncio.Task[None]
    channel: grpc.aio.Channel

    async def stop(self) -> None:
        await self.channel.close()
        self.service.runtime.request_stop()
        await asyncio.wait_for(self.task, timeout=30)


Start = Callable[..., Awaitable[Running]]


Start = Callable[..., Awaitable[Running]]


async def dispatch_events(nc: Client) -> list[IncomingEvent]:
    return await stream_events(nc.jetstream(), "DISPATCH")


async def wait_for_events(nc: Client, count: int) -> list[IncomingEvent]:
    async def enough() -> list[IncomingEvent] | None:
        events = await dispatch_events(nc)
        return events if len(events) >= count else None

    return await eventually(enough, timeout=20)
