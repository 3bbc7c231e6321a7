"""Fan-out of live events to the browsers connected over SSE.

Publishing never blocks: each browser has a bounded queue; one that falls
behind loses its backlog and is told to resynchronise (reload what it shows),
so a slow screen cannot hold up the others or grow memory without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from console.domain.access import Principal
from console.domain.live import LiveEvent, may_hear

RESYNC = LiveEvent(subject="", kind="Resync", case_id="")


@dataclass(eq=False)
class Subscription:
    principal: Principal
    queue: asyncio.Queue[LiveEvent | None] = field(default_factory=lambda: asyncio.Queue(256))
    overflowed: bool = False

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event, RESYNC after an overflow, or None on timeout (a heartbeat)."""
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        if event is RESYNC:
            self.overflowed = False
        if event is None:
            raise StopAsyncIteration
        return event


class LiveHub:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self.closed = asyncio.Event()
        self.published = 0

    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        for sub in list(self._subscriptions):
            if may_hear(sub.principal, event):
                sub.offer(event)

    async def listen(
        self, principal: Principal, heartbeat: float
    ) -> AsyncIterator[LiveEvent | None]:
        """Events for `principal` (None: nothing for `heartbeat` seconds) until the hub closes."""
        sub = Subscription(principal)
        self._subscriptions.add(sub)
        try:
            while not self.closed.is_set():
                try:
                    yield await sub.next(heartbeat)
                except StopAsyncIteration:
                    return
        finally:
            self._subscriptions.discard(sub)

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def close(self) -> None:
        """Ends every stream (at shutdown), so the HTTP server can stop promptly."""
        self.closed.set()
        for sub in list(self._subscriptions):
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                sub.queue.get_nowait()
                sub.queue.put_nowait(None)
