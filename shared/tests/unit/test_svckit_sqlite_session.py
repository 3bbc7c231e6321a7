"""svckit.sqlite_session on a real SQLite file: the services' sessions run on
the file's sync engine, keep `AsyncSession`'s behaviour (transactions,
savepoints, Core on the session's connection, buffered results), and never
make the loop wait for a pooled connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit import db
from svckit.sqlite_session import SyncBackedSession

METADATA = MetaData()
NOTES = Table(
    "svckit_test_note",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("text", String, nullable=False),
)


class Widget(SQLModel, table=True):
    __tablename__ = "svckit_test_widget"

    id: int = Field(primary_key=True)
    name: str


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'session.db'}")
    await db.create_tables(engine, METADATA)
    async with engine.begin() as connection:
        await connection.run_sync(Widget.__table__.create)  # type: ignore[attr-defined]
    yield engine
    await engine.dispose()


async def note_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(NOTES))).scalar_one())


async def test_a_file_session_runs_its_statements_on_the_sync_twin(engine: AsyncEngine) -> None:
    twin = db.sync_twin(engine)
    assert twin is not None
    seen: dict[str, list[str]] = {"twin": [], "async": []}
    event.listen(twin, "before_cursor_execute", lambda *a: seen["twin"].append(a[2]))
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen["async"].append(a[2]))

    async with db.session_factory(engine)() as session:
        assert isinstance(session, SyncBackedSession)
        session.add(Widget(id=1, name="pump"))
        await session.flush()
        await (await session.connection()).execute(insert(NOTES), [{"id": 1, "text": "a"}])
        assert (await session.get(Widget, 1)) is not None
        await session.commit()

    assert any("svckit_test_widget" in s for s in seen["twin"])
    assert any("svckit_test_note" in s for s in seen["twin"])
    assert seen["async"] == []
    assert await note_count(engine) == 1


async def test_the_session_still_reports_the_async_engine_as_its_bind(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        assert session.bind is engine
        assert session.bind.dialect.name == "sqlite"


async def test_a_rollback_undoes_orm_and_core_writes(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        session.add(Widget(id=2, name="valve"))
        await session.flush()
        await (await session.connection()).execute(insert(NOTES), [{"id": 2, "text": "b"}])
        await session.rollback()
    async with db.session_factory(engine)() as session:
        assert (await session.get(Widget, 2)) is None
    assert await note_count(engine) == 0


async def test_a_savepoint_rolls_back_alone(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        await (await session.connection()).execute(insert(NOTES), [{"id": 3, "text": "kept"}])
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                # Asked for inside the savepoint, as repositories do: the
                # session emits SAVEPOINT when it hands the connection out.
                inner = await session.connection()
                await inner.execute(insert(NOTES), [{"id": 4, "text": "undone"}])
                session.add(Widget(id=4, name="undone too"))
                raise RuntimeError("one item of a batch failed")
        await session.commit()
    async with engine.connect() as plain:
        ids = (await plain.execute(select(NOTES.c.id))).scalars().all()
    assert ids == [3]
    async with db.session_factory(engine)() as session:
        assert (await session.get(Widget, 4)) is None


async def test_results_are_buffered_and_outlive_the_session(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        await (await session.connection()).execute(
            insert(NOTES), [{"id": i, "text": f"n{i}"} for i in range(1, 201)]
        )
        await session.commit()
    async with db.session_factory(engine)() as session:
        result = await session.exec(select(NOTES.c.text).order_by(NOTES.c.id))  # type: ignore[call-overload]
        driver = await (await session.connection()).exec_driver_sql(
            "SELECT count(*) FROM svckit_test_note"
        )
    assert len(result.all()) == 200
    assert driver.scalar_one() == 200


async def test_many_open_sessions_never_wait_for_a_connection(engine: AsyncEngine) -> None:
    """A pooled checkout that waited would block the loop's only thread, and
    the sessions holding the connections could then never give them back."""
    opened: list[bool] = []

    async def hold(writer: bool) -> None:
        lock = db.write_lock(engine) if writer else contextlib.nullcontext()
        async with lock, db.session_factory(engine)() as session:
            connection = await session.connection()
            await connection.execute(select(NOTES.c.id))
            opened.append(writer)
            await asyncio.sleep(0.05)  # every session holds its connection here at once
            if writer:
                await connection.execute(insert(NOTES), [{"id": 99, "text": "w"}])
                await session.commit()

    sessions = [hold(writer=i == 0) for i in range(12)]
    await asyncio.wait_for(asyncio.gather(*sessions), timeout=20)
    assert len(opened) == 12
    assert await note_count(engine) == 1


async def test_in_memory_sessions_stay_plain_async_sessions() -> None:
    engine = db.create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with db.session_factory(engine)() as session:
            assert type(session) is AsyncSession
    finally:
        await engine.dispose()
