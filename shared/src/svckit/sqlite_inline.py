"""aiosqlite's interface, run on the event loop's own thread.

aiosqlite hands every statement to a worker thread and wakes the loop when it
is done. Under load that hand-off, not SQLite, was the largest cost of every
service (docs/performance.md, "Where the time goes"): two thread switches and
a GIL hand-over per statement, where the statement itself takes microseconds
on a WAL database without a sync per commit.

Running the statement inline is safe here because nothing in one process
waits on SQLite's file lock for long: a service's writers take the in-process
write lock (`svckit.db.write_lock`) before they begin, and WAL readers never
wait for writers. Another process (a backup, an admin CLI) may hold the lock
for a few milliseconds; the busy timeout then blocks the loop for that long.

SQLAlchemy's aiosqlite dialect drives this class through `aiosqlite.Connection`'s
own coroutine API (`cursor`, `execute`, `commit`, …) and its `_execute`; only
the thread is gone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Generator
from functools import partial
from typing import Any

import aiosqlite

_CHUNK = 64  # rows per step when a cursor is iterated (aiosqlite's default)


class InlineConnection(aiosqlite.Connection):
    """An `aiosqlite.Connection` whose calls run at once on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, _CHUNK)

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._open().__await__()

    async def _open(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        """Close at once; there is no thread to stop."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()

    def __del__(self) -> None:
        # The base class warns and queues a stop for its thread; here an
        # unclosed connection is simply closed by sqlite3's own finaliser.
        pass


def connector(path: str, *, timeout: float) -> Callable[[], Awaitable[InlineConnection]]:
    """An `async_creator` for `create_async_engine`: a fresh inline connection."""

    async def create() -> InlineConnection:
        # check_same_thread off: the pool may close a connection from a
        # finaliser on another thread; all use is on the loop's thread.
        return await InlineConnection(
            partial(sqlite3.connect, path, timeout=timeout, check_same_thread=False)
        )

    return create
