"""A housekeeping job run on an interval beside a service's workers (purges,
sweeps): a runtime component with `start`/`stop`.

The job returns True when it stopped short of finishing (a batch was full),
so a backlog is worked off at once rather than one batch per interval; an
exception is logged and retried at the next interval, never fatal, because
housekeeping must not take the service down with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from svckit.logging import get_logger

log = get_logger(__name__)


class Periodic:
    def __init__(
        self, name: str, job: Callable[[], Awaitable[bool]], *, interval_seconds: float
    ) -> None:
        self.name = name
        self._job = job
        self._interval = interval_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Completed runs, for tests and metrics that must know the job has run.
        self.runs = 0

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                more = await self._job()
            except Exception as exc:
                log.warning("periodic job failed", job=self.name, error=repr(exc))
                more = False
            self.runs += 1
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
