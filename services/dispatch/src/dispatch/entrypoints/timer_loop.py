"""The 督办 timer loop: a runtime component that fires due durable timers.

It polls on a short real-time interval (svckit's Periodic) and asks the
injected clock what time it is, so escalations fire when the (possibly
simulated) clock passes their due time, after any restart, on any replica.
A full batch runs again at once, so a backlog of due timers is worked off
without waiting an interval per batch.
"""

from __future__ import annotations

from collections.abc import Callable

from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.timers import fire_due
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.periodic import Periodic


class TimerLoop(Periodic):
    def __init__(
        self,
        uow_factory: Callable[[], DispatchUnitOfWork],
        ctx: DispatchContext,
        *,
        interval: float = 1.0,
        batch: int = 100,
    ) -> None:
        super().__init__("dispatch-timers", self._fire, interval_seconds=interval)
        self._uow_factory = uow_factory
        self._ctx = ctx
        self._batch = batch
        self.fired = 0

    @property
    def passes(self) -> int:
        """Completed passes, for tests that must know the loop has looked since a change."""
        return self.runs

    async def _fire(self) -> bool:
        fired = await fire_due(self._uow_factory, self._ctx, limit=self._batch)
        self.fired += fired
        return fired >= self._batch
