"""Every service's schema history, on SQLite and PostgreSQL: it builds an
empty database to exactly what the code declares, it upgrades each previous
schema (data kept), it adopts a database made before migrations existed, and
a second run changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from cityops_tools.migrations import SERVICES, load_tables, versions_of
from svckit import db, migrations
from svckit.tables import InboxMessage

for _service in SERVICES:
    load_tables(_service)


@pytest.fixture
async def engine(database_url: str) -> AsyncEngine:
    found = db.create_engine(database_url)
    yield found  # type: ignore[misc]
    await found.dispose()


def chain(service: str) -> list[str]:
    """The service's revisions and svckit's, oldest first."""
    cfg = migrations.config(service, versions_of(service))
    walked = list(ScriptDirectory.from_config(cfg).walk_revisions())
    return [script.revision for script in reversed(walked)]


async def run(engine: AsyncEngine, work: Callable[[Connection], object]) -> object:
    async with engine.begin() as conn:
        return await conn.run_sync(work)


async def differences(engine: AsyncEngine, service: str) -> list[object]:
    async with engine.connect() as conn:
        return await conn.run_sync(migrations.differences, service, SQLModel.metadata)


async def tables(engine: AsyncEngine) -> set[str]:
    from sqlalchemy import inspect

    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


SVCKIT_AND_VERSIONS = {*migrations.SVCKIT_TABLES, migrations.VERSION_TABLE}


@pytest.mark.parametrize("service", SERVICES)
async def test_an_empty_database_becomes_exactly_what_the_code_declares(
    engine: AsyncEngine, service: str
) -> None:
    versions = versions_of(service)
    await migrations.upgrade(engine, service, versions)
    assert await differences(engine, service) == []
    found = await tables(engine)
    assert found >= SVCKIT_AND_VERSIONS
    assert {t for t in found - SVCKIT_AND_VERSIONS if not t.startswith(f"{service}_")} == set()
    assert await migrations.pending_revisions(engine, service, versions) == set()
    applied = await migrations.revisions_applied(engine)
    # A second start applies nothing and keeps everything.
    await migrations.upgrade(engine, service, versions)
    assert await migrations.revisions_applied(engine) == applied


def remember(conn: Connection) -> None:
    conn.execute(
        insert(InboxMessage.__table__).values(  # type: ignore[attr-defined]
            consumer="c", message_id="kept-across-upgrades", received_at=datetime.now(UTC)
        )
    )


def kept(conn: Connection) -> list[str]:
    table = InboxMessage.__table__  # type: ignore[attr-defined]
    return list(conn.execute(select(table.c.message_id)).scalars())


PREVIOUS = [(service, revision) for service in SERVICES for revision in chain(service)]


@pytest.mark.parametrize(("service", "revision"), PREVIOUS)
async def test_every_previous_schema_upgrades_with_its_data(
    engine: AsyncEngine, service: str, revision: str
) -> None:
    """Each revision stands for the schema a running city may have before the
    next release; upgrading from it reaches the current schema, data kept."""
    versions = versions_of(service)
    await migrations.upgrade(engine, service, versions, revision)
    await run(engine, remember)
    await migrations.upgrade(engine, service, versions)
    assert await differences(engine, service) == []
    assert await run(engine, kept) == ["kept-across-upgrades"]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_database_from_before_migrations_is_adopted(
    engine: AsyncEngine, service: str
) -> None:
    """What `make run` made before migrations: the first release's tables,
    created at start, and no version table."""
    versions = versions_of(service)
    cfg = migrations.config(service, versions)
    for base in migrations.bases(cfg):
        await migrations.upgrade(engine, service, versions, base)
    await run(engine, remember)
    await run(engine, lambda c: c.execute(text("DROP TABLE alembic_version")))
    assert "alembic_version" not in await tables(engine)

    await migrations.upgrade(engine, service, versions)
    assert await differences(engine, service) == []
    assert await run(engine, kept) == ["kept-across-upgrades"]
    assert await migrations.pending_revisions(engine, service, versions) == set()
