"""svckit.db on a real SQLite file: aware UTC datetimes in and out, naive ones
refused, the pragmas, the per-engine write lock, and the sync twin."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db, sqlite_inline

# A table of its own (not SQLModel's shared metadata) so no other test sees it.
METADATA = MetaData()
STAMPS = Table(
    "svckit_test_stamp",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("at", db.UtcDateTime, nullable=True),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'stamps.db'}")
    await db.create_tables(engine, METADATA)
    yield engine
    await engine.dispose()


async def store(engine: AsyncEngine, value: datetime | None) -> datetime | None:
    """Write one value and read it back through a new connection."""
    async with engine.begin() as conn:
        row_id = (await conn.execute(insert(STAMPS).values(at=value))).inserted_primary_key[0]
    async with engine.connect() as conn:
        return (await conn.execute(select(STAMPS.c.at).where(STAMPS.c.id == row_id))).scalar_one()


async def test_aware_utc_round_trips_aware_utc(engine: AsyncEngine, tmp_path: Path) -> None:
    when = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    back = await store(engine, when)
    assert back == when and back is not None and back.tzinfo is UTC
    assert (tmp_path / "nested" / "stamps.db").is_file()  # the folder was made


async def test_another_offset_is_stored_as_its_utc_instant(engine: AsyncEngine) -> None:
    shanghai = datetime(2024, 5, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    back = await store(engine, shanghai)
    assert back == shanghai and back is not None and back.tzinfo is UTC
    assert back.hour == 8
    async with engine.connect() as conn:  # SQLite keeps the UTC wall time, no zone
        raw = (await conn.execute(text("SELECT at FROM svckit_test_stamp"))).scalar_one()
    assert raw.startswith("2024-05-01 08:30:00")


async def test_none_stays_none(engine: AsyncEngine) -> None:
    assert await store(engine, None) is None


async def test_a_naive_datetime_is_refused_and_nothing_is_written(engine: AsyncEngine) -> None:
    with pytest.raises(StatementError, match="naive datetime given"):
        await store(engine, datetime(2024, 5, 1, 8, 30))
    async with engine.connect() as conn:
        assert (await conn.execute(select(STAMPS))).all() == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 30000
    assert db.is_sqlite(engine)


@pytest.mark.parametrize(("setting", "pragma"), [("normal", 1), ("full", 2)])
async def test_sqlite_durability_follows_the_setting(
    tmp_path: Path, setting: str, pragma: int
) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", synchronous=setting)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == pragma
    finally:
        await engine.dispose()


def test_an_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", synchronous="off")


async def test_the_write_lock_serialises_writers(engine: AsyncEngine) -> None:
    lock = db.write_lock(engine)
    assert db.write_lock(engine) is lock  # one lock per engine
    steps: list[str] = []

    async def writer(name: str) -> None:
        async with db.write_lock(engine):
            steps.append(f"{name} in")
            await asyncio.sleep(0.02)
            async with engine.begin() as conn:
                await conn.execute(insert(STAMPS).values(at=datetime.now(UTC)))
            steps.append(f"{name} out")

    await asyncio.gather(*(writer(n) for n in ("a", "b", "c")))
    assert steps == ["a in", "a out", "b in", "b out", "c in", "c out"]
    async with engine.connect() as conn:
        assert len((await conn.execute(select(STAMPS))).all()) == 3


async def test_each_engine_has_its_own_lock_and_postgres_none(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    postgres = db.create_engine("postgresql+asyncpg://user@127.0.0.1:1/none")  # never connects
    try:
        assert db.write_lock(other) is not db.write_lock(engine)
        async with db.write_lock(engine):  # another engine's writer is not held up
            await asyncio.wait_for(db.write_lock(other).acquire(), 1)
            db.write_lock(other).release()
        assert not db.is_sqlite(postgres)
        assert isinstance(db.write_lock(postgres), contextlib.nullcontext)
    finally:
        await other.dispose()
        await postgres.dispose()


def test_a_lock_does_not_outlive_its_engine(tmp_path: Path) -> None:
    """svckit once kept locks by id(engine) for ever: a new engine that reused a
    dead engine's id got its lock, held or bound to a closed event loop."""

    async def contended_lock() -> weakref.ref[asyncio.Lock]:
        engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        lock = db.write_lock(engine)

        async def hold() -> None:
            async with lock:
                await asyncio.sleep(0.001)

        await asyncio.gather(hold(), hold())  # binds the lock to this loop
        await engine.dispose()
        return weakref.ref(lock)

    ref = asyncio.run(contended_lock())
    gc.collect()
    assert ref() is None


async def test_sqlite_statements_run_on_the_loop_thread_without_a_worker(
    engine: AsyncEngine,
) -> None:
    """aiosqlite's per-statement thread hand-off was the largest cost of every
    service; the engine runs statements inline and starts no thread."""
    before = {t.ident for t in threading.enumerate()}
    seen: list[int] = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite_inline.InlineConnection)
        await driver.create_function("whose_thread", 0, threading.get_ident)
        seen.append((await conn.execute(text("SELECT whose_thread()"))).scalar_one())
    assert seen == [threading.get_ident()]
    assert {t.ident for t in threading.enumerate()} <= before


async def test_a_failed_transaction_rolls_back_inline(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError, match="abandon"):
        async with engine.begin() as conn:
            await conn.execute(insert(STAMPS).values(at=datetime.now(UTC)))
            raise RuntimeError("abandon")
    async with engine.connect() as conn:
        assert (await conn.execute(select(STAMPS))).all() == []


async def test_a_closed_inline_connection_refuses_statements(tmp_path: Path) -> None:
    conn = await sqlite_inline.connector(str(tmp_path / "c.db"), timeout=1)()
    async with conn.execute("SELECT 41 + 1") as cursor:
        assert await cursor.fetchone() == (42,)
    await conn.close()
    with pytest.raises(ValueError, match="connection"):
        await conn.execute("SELECT 1")


async def test_an_in_memory_database_works_inline() -> None:
    engine = db.create_engine("sqlite+aiosqlite://")
    try:
        await db.create_tables(engine, METADATA)
        async with engine.begin() as conn:
            await conn.execute(insert(STAMPS).values(at=None))
        async with engine.connect() as conn:
            assert len((await conn.execute(select(STAMPS))).all()) == 1
    finally:
        await engine.dispose()


async def test_a_sqlite_file_has_a_sync_twin_on_the_same_file_and_pragmas(
    tmp_path: Path,
) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", synchronous="normal")
    try:
        await db.create_tables(engine, METADATA)
        twin = db.sync_twin(engine)
        assert twin is not None
        async with engine.begin() as conn:
            await conn.execute(insert(STAMPS).values(at=datetime(2026, 1, 2, tzinfo=UTC)))
        with twin.connect() as conn:  # what one commits, the other reads
            assert conn.execute(select(STAMPS.c.at)).scalar_one() == datetime(
                2026, 1, 2, tzinfo=UTC
            )
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # not the default
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 30000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        with twin.begin() as conn:
            conn.execute(insert(STAMPS).values(at=None))
        async with engine.connect() as conn:
            assert len((await conn.execute(select(STAMPS))).all()) == 2
        assert twin.pool.checkedin() == 1
        assert db.statement_engines(engine) == [engine.sync_engine, twin]
    finally:
        await engine.dispose()
    assert twin.pool.checkedin() == 0  # disposed with its engine


async def test_no_sync_twin_in_memory_or_on_postgres() -> None:
    memory = db.create_engine("sqlite+aiosqlite:///:memory:")
    postgres = db.create_engine("postgresql+asyncpg://user@127.0.0.1:1/none")  # never connects
    try:
        assert db.sync_twin(memory) is None
        assert db.sync_twin(postgres) is None
        assert db.statement_engines(memory) == [memory.sync_engine]
    finally:
        await memory.dispose()
        await postgres.dispose()
