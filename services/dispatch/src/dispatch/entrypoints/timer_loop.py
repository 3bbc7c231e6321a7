"""The 督办 timer loop: a runtime component that fires due durable timers.

It polls on a short real-time interval and asks the injected clock what
time it is, so escalations fire when the (possibly simulated) clock passes
their due time, after any restart, on any replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.timers import fire_due
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.logging import get_logger

log = get_logger(__name__)


class TimerLoop:
    def __init__(
        self,
        uow_factory: Callable[[], DispatchUnitOfWork],
        ctx: DispatchContext,
        *,
        interval: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._uow_factory = uow_factory
        self._ctx = ctx
        self._interval = interval
        self._batch = batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Completed passes, for tests that must know the loop has looked since a change.
        self.passes = 0
        self.fired = 0

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="dispatch-timers")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await fire_due(self._uow_factory, self._ctx, limit=self._batch)
            except Exception as exc:  # the store may be briefly unavailable; try again
                log.warning("timer pass failed", error=repr(exc))
                fired = 0
            self.fired += fired
            self.passes += 1
            if fired < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
