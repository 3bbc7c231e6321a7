"""What one statement and one transaction cost through the services' database
layer, against the same work through SQLAlchemy's sync engine and through
sqlite3 directly:

    uv run python bench/sqlcost.py [--statements 3000]

The services run SQLAlchemy's asyncio layer over SQLite with statements inline
on the loop's thread (svckit.db, svckit.sqlite_inline), and their sessions on
the file's sync engine behind the same interface (svckit.sqlite_session),
where a statement built once runs prepared (svckit.sqlite_prepared). Below
saturation each event is its own transaction, so the fixed cost of a
transaction (a session or connection, a pool checkout, begin, commit, the
pool's reset) and of each statement is paid per event; this prints both per
layer, as CPU microseconds.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, bindparam, create_engine, event, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit import db

METADATA = MetaData()
ROWS = Table("bench_row", METADATA, Column("k", String, primary_key=True), Column("v", String))
BY_KEY = select(ROWS).where(ROWS.c.k == bindparam("k"))
INSERT = ROWS.insert()  # built once, as the services build theirs
PRELOADED = 1000


def _line(label: str, cpu_s: float, count: int) -> None:
    print(f"{label:<52} {cpu_s / count * 1e6:8.0f} µs")


async def _timed_async(count: int, body: Callable[[int], Awaitable[None]]) -> float:
    started = time.process_time()
    for i in range(count):
        await body(i)
    return time.process_time() - started


async def services_layer(path: Path, count: int) -> None:
    engine: AsyncEngine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(
            ROWS.insert(), [{"k": f"k{i}", "v": "x"} for i in range(PRELOADED)]
        )
    plain_sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    services_sessions = db.session_factory(engine)
    async with engine.connect() as connection:

        async def select_on_open(i: int) -> None:
            (await connection.execute(BY_KEY, {"k": f"k{i % PRELOADED}"})).first()

        cpu = await _timed_async(count, select_on_open)
        _line("asyncio layer: a select on an open connection", cpu, count)

    async def begin_select(i: int) -> None:
        async with engine.begin() as connection:
            (await connection.execute(BY_KEY, {"k": f"k{i % PRELOADED}"})).first()

    def session_insert_commit(
        sessions: async_sessionmaker[AsyncSession], prefix: str
    ) -> Callable[[int], Awaitable[None]]:
        async def body(i: int) -> None:
            async with sessions() as session:
                connection = await session.connection()
                await connection.execute(INSERT, [{"k": f"{prefix}{i}", "v": "y"}])
                await session.commit()

        return body

    _line(
        "asyncio layer: engine.begin() + the select", await _timed_async(count, begin_select), count
    )
    async with services_sessions() as session:
        in_session = await session.connection()

        async def select_in_session(i: int) -> None:
            (await in_session.execute(BY_KEY, {"k": f"k{i % PRELOADED}"})).first()

        _line(
            "services' session: a select (prepared)",
            await _timed_async(count, select_in_session),
            count,
        )
    _line(
        "asyncio layer: AsyncSession + an insert + commit",
        await _timed_async(count, session_insert_commit(plain_sessions, "a")),
        count,
    )
    _line(
        "services' session (on the sync twin): insert + commit",
        await _timed_async(count, session_insert_commit(services_sessions, "s")),
        count,
    )
    await engine.dispose()


def sync_layer(path: Path, count: int) -> None:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _: object) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    with engine.begin() as connection:
        METADATA.create_all(connection)
        connection.execute(ROWS.insert(), [{"k": f"k{i}", "v": "x"} for i in range(PRELOADED)])
    with engine.connect() as connection:
        started = time.process_time()
        for i in range(count):
            connection.execute(BY_KEY, {"k": f"k{i % PRELOADED}"}).first()
        _line("sync engine:   a select on an open connection", time.process_time() - started, count)
    started = time.process_time()
    for i in range(count):
        with engine.begin() as connection:
            connection.execute(BY_KEY, {"k": f"k{i % PRELOADED}"}).first()
    _line("sync engine:   engine.begin() + the select", time.process_time() - started, count)
    started = time.process_time()
    for i in range(count):
        with engine.begin() as connection:
            connection.execute(ROWS.insert(), [{"k": f"s{i}", "v": "y"}])
    _line(
        "sync engine:   engine.begin() + an insert + commit", time.process_time() - started, count
    )
    engine.dispose()


def raw_sqlite(path: Path, count: int) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE bench_row (k TEXT PRIMARY KEY, v TEXT)")
    connection.executemany(
        "INSERT INTO bench_row VALUES (?, ?)", [(f"k{i}", "x") for i in range(PRELOADED)]
    )
    connection.commit()
    started = time.process_time()
    for i in range(count):
        connection.execute("SELECT * FROM bench_row WHERE k = ?", (f"k{i % PRELOADED}",)).fetchone()
    _line("sqlite3:       a select", time.process_time() - started, count)
    started = time.process_time()
    for i in range(count):
        connection.execute("INSERT INTO bench_row VALUES (?, ?)", (f"s{i}", "y"))
        connection.commit()
    _line("sqlite3:       an insert + commit", time.process_time() - started, count)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-sqlcost-") as tmp:
        root = Path(tmp)
        asyncio.run(services_layer(root / "services.db", args.statements))
        sync_layer(root / "sync.db", args.statements)
        raw_sqlite(root / "raw.db", args.statements)


if __name__ == "__main__":
    main()
