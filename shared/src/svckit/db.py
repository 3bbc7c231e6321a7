"""Async database engines: SQLite (WAL) by default, PostgreSQL by URL.

SQLite allows one writer at a time. Rather than let concurrent transactions in
one process collide on the file lock (and fail with "database is locked" when
a reader upgrades), writes take an in-process lock; `write_lock()` gives it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, TypeDecorator, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit import sqlite_inline
from svckit.sqlite_session import SyncBackedSession

# Keyed by the engine itself, held weakly: a lock lives exactly as long as its
# engine. (Keyed by id(), a new engine could inherit a dead engine's lock, still
# held or bound to a closed event loop.)
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
_SYNC_TWINS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


SQLITE_SYNCHRONOUS = ("normal", "full")


def create_engine(url: str, *, echo: bool = False, synchronous: str = "normal") -> AsyncEngine:
    """An engine with the pragmas that make SQLite safe for a service.

    `synchronous`: "normal" (WAL) survives any process kill but a power loss
    may roll back the last commits; "full" syncs every commit, so a power
    loss loses nothing committed (docs/runbook.md, "Durability")."""
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLite synchronous must be one of {SQLITE_SYNCHRONOUS}")
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Statements run on the loop's thread (svckit.sqlite_inline says why).
        engine = create_async_engine(
            url, echo=echo, async_creator=sqlite_inline.connector(path, timeout=30)
        )
        event.listen(engine.sync_engine, "connect", _pragmas(synchronous))
        if path != ":memory:":
            twin = _SYNC_TWINS[engine.sync_engine] = _sync_twin(path, synchronous)
            event.listen(engine.sync_engine, "engine_disposed", lambda _: twin.dispose())
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)


def _pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    def set_pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return set_pragmas


def _sync_twin(path: str, synchronous: str) -> Engine:
    """A sync engine on the same file, with the same pragmas, for the services'
    sessions (svckit.sqlite_session) and the relay's hot statements: they run
    inline on the loop's thread either way, and without the asyncio layer a
    transaction costs a fraction as much (docs/performance.md, "sqlcost").
    The pool never makes a checkout wait: a wait would block the loop's only
    thread, and the sessions holding the connections could never give them back."""
    twin = sa_create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=5,
        max_overflow=-1,
    )
    event.listen(twin, "connect", _pragmas(synchronous))
    return twin


def sync_twin(engine: AsyncEngine) -> Engine | None:
    """The SQLite file's sync engine (None on PostgreSQL and in memory, where
    the async engine is the only way in). Writers through it still take
    `write_lock(engine)`. Disposing the async engine disposes it too."""
    return _SYNC_TWINS.get(engine.sync_engine)


def statement_engines(engine: AsyncEngine) -> list[Engine]:
    """Every sync engine this engine's statements run on (the async engine's
    own and, on a SQLite file, its twin): where to listen for statement and
    commit events."""
    twin = sync_twin(engine)
    return [engine.sync_engine] if twin is None else [engine.sync_engine, twin]


def write_lock(engine: AsyncEngine) -> AbstractAsyncContextManager[Any]:
    """Serialise this process's writers on SQLite; no-op on PostgreSQL."""
    if not is_sqlite(engine):
        return nullcontext()
    key = engine.sync_engine
    lock = _WRITE_LOCKS.get(key)
    if lock is None:
        lock = _WRITE_LOCKS[key] = asyncio.Lock()
    return lock


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The services' sessions; on a SQLite file they run on its sync twin."""
    twin = sync_twin(engine)
    if twin is None:
        return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    return async_sessionmaker(
        engine, class_=SyncBackedSession, expire_on_commit=False, sync_engine=twin
    )


async def create_tables(engine: AsyncEngine, metadata: Any = None) -> None:
    """Create missing tables (the embedded default; production uses migrations)."""
    async with engine.begin() as conn:
        await conn.run_sync((metadata or SQLModel.metadata).create_all)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use svckit.clock.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
