"""A component beside the workers: every `every_seconds`, sign a tree head
if the ledger grew since the last (entries between count-based heads are
never left unsigned for long)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from audit.domain.tree_head import Signer
from audit.service_layer.tree_heads import sign_if_grown
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.logging import get_logger

log = get_logger(__name__)


class TreeHeadTimer:
    def __init__(
        self, uow: Callable[[], AuditUnitOfWork], signer: Signer, every_seconds: float
    ) -> None:
        self._uow, self._signer, self._every = uow, signer, every_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="audit-tree-heads")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        # A last head over whatever arrived since, so a clean stop leaves nothing unsigned.
        await self.tick()

    async def tick(self) -> None:
        try:
            await sign_if_grown(self._uow(), self._signer)
        except Exception as exc:  # the next tick retries; the workers go on
            log.warning("signing a tree head failed", error=repr(exc))

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._every)
            if not self._stop.is_set():
                await self.tick()
