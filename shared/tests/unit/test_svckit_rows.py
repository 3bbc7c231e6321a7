"""svckit.rows on SQLite and PostgreSQL: whole rows inserted and written back
by key, each in one statement, nothing for an empty list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db
from svckit.rows import insert_rows, rewrite_rows

METADATA = MetaData()
THINGS = Table(
    "svckit_test_thing",
    METADATA,
    Column("thing_id", String(16), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("count", Integer, nullable=False),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url)
    await db.create_tables(engine, METADATA)
    yield engine
    await engine.dispose()


async def stored(engine: AsyncEngine) -> list[tuple[str, str, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(THINGS).order_by(THINGS.c.thing_id))
        return [(r.thing_id, r.name, r.count) for r in rows]


async def test_rows_are_inserted_and_rewritten_by_key(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await insert_rows(
            connection,
            THINGS,
            [
                {"thing_id": "a", "name": "first", "count": 1},
                {"thing_id": "b", "name": "second", "count": 2},
                {"thing_id": "c", "name": "third", "count": 3},
            ],
        )
        await insert_rows(connection, THINGS, [])
    async with engine.begin() as connection:
        await rewrite_rows(
            connection,
            THINGS,
            "thing_id",
            [
                {"thing_id": "c", "name": "third, renamed", "count": 30},
                {"thing_id": "a", "name": "first", "count": 10},
            ],
        )
        await rewrite_rows(connection, THINGS, "thing_id", [])
    assert await stored(engine) == [
        ("a", "first", 10),
        ("b", "second", 2),
        ("c", "third, renamed", 30),
    ]
