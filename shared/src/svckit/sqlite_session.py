"""An `AsyncSession` over a SQLite file whose statements skip the asyncio layer.

On SQLite every statement already runs inline on the loop's thread
(`svckit.sqlite_inline`), so the asyncio layer buys nothing there, and it costs:
each call is a greenlet switch into an adapted DBAPI connection, and a unit of
work pays that on begin, every statement, flush and commit. Below saturation
each event is its own transaction, so that is paid per event in every service
(docs/performance.md, "sqlcost"). This session keeps the `AsyncSession`
interface the repositories and units of work are written against, binds its
ORM session to the file's sync engine (`svckit.db.sync_twin`), and runs the
calls the services make on every event straight on it. Anything not
overridden here still works: `AsyncSession` runs it in a greenlet, which a
sync engine does not mind.

Results come back pre-buffered, as `AsyncSession`'s do, so a caller may keep
using them after the transaction ends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit import sqlite_prepared


def _prebuffered(kwargs: dict[str, Any]) -> dict[str, Any]:
    options = kwargs.get("execution_options")
    prebuffer = sqlite_prepared.PREBUFFER
    kwargs["execution_options"] = prebuffer.union(options) if options else prebuffer
    return kwargs


class SyncBackedConnection(AsyncConnection):
    """What `SyncBackedSession.connection()` hands out: Core statements on the
    session's sync connection, in the session's transaction (`scalar` and
    `scalars` go through `execute`)."""

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        connection = self.sync_connection
        assert connection is not None
        if kwargs:  # execution options: SQLAlchemy's to apply
            return connection.execute(statement, parameters, **_prebuffered(kwargs))
        return sqlite_prepared.run(connection, statement, parameters)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_connection.exec_driver_sql(*args, **_prebuffered(kwargs))  # type: ignore[union-attr]


class SyncBackedSession(AsyncSession):
    """`AsyncSession` for a SQLite file, run on the file's sync engine."""

    def __init__(self, bind: AsyncEngine, *, sync_engine: Engine, **kw: Any) -> None:
        super().__init__(bind=bind, **kw)
        self._async_engine = bind
        self.sync_session.bind = sync_engine

    @property
    def bind(self) -> AsyncEngine:
        """The async engine the session was made for (callers ask its dialect)."""
        return self._async_engine

    @bind.setter
    def bind(self, engine: AsyncEngine) -> None:
        raise AttributeError("a SyncBackedSession stays on the file it was made for")

    async def exec(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.exec(*args, **_prebuffered(kwargs))

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.execute(*args, **_prebuffered(kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.get(*args, **kwargs)

    async def merge(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.merge(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        self.sync_session.flush(*args, **kwargs)

    async def commit(self) -> None:
        self.sync_session.commit()

    async def rollback(self) -> None:
        self.sync_session.rollback()

    async def close(self) -> None:
        self.sync_session.close()

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        return SyncBackedConnection(
            self._async_engine, self.sync_session.connection(*args, **kwargs)
        )
