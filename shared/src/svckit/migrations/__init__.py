"""Schema migrations with Alembic, one chain per owner in each database:
svckit's own tables (outbox, inbox, dead letters) on the `svckit` branch,
here, and each service's tables on a branch named after the service, in
`<service>/adapters/migrations/`. Both are applied together to the
service's database at start, so a service never runs on a schema older than
its code, on SQLite or PostgreSQL.

A database made before migrations existed (tables created at start by
`create_all`) is adopted: stamped at each branch's first revision, which is
the schema of that release, then upgraded like any other.

New revision: `python -m cityops_tools.migrations revision <service> -m "why"`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent
SVCKIT_VERSIONS = HERE / "versions"
SVCKIT_BRANCH = "svckit"
SVCKIT_TABLES = frozenset({"outbox", "inbox", "dead_letter"})
VERSION_TABLE = "alembic_version"


def owned_tables(service: str) -> Callable[[str], bool]:
    """Which tables a service's database holds: its own (named `<service>_…`)
    and svckit's. Everything else in the process's metadata is someone else's."""
    prefix = f"{service}_"
    return lambda name: name.startswith(prefix) or name in SVCKIT_TABLES


IncludeObject = Callable[[object, str | None, str, bool, object], bool]


def object_filter(include_table: Callable[[str], bool]) -> IncludeObject:
    """Alembic's `include_object`: tables by name, their columns, indexes and
    constraints with them; the version table never."""

    def include_object(
        item: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
    ) -> bool:
        table = name if type_ == "table" else getattr(getattr(item, "table", None), "name", None)
        return table is None or (table != VERSION_TABLE and include_table(table))

    return include_object


def config(service: str, versions: Path, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", f"{SVCKIT_VERSIONS}:{versions}")
    cfg.attributes["connection"] = connection
    cfg.attributes["include_table"] = owned_tables(service)
    return cfg


def bases(cfg: Config) -> list[str]:
    """Each branch's first revision, less those another one depends on
    (stamping both would name svckit's twice)."""
    script = ScriptDirectory.from_config(cfg)
    found = list(script.get_bases())
    implied = {
        r.revision
        for base in found
        for r in script.iterate_revisions(base, "base")
        if r.revision != base
    }
    return [b for b in found if b not in implied]


def heads(cfg: Config) -> set[str]:
    return set(ScriptDirectory.from_config(cfg).get_heads())


def current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection, service: str, versions: Path, revision: str) -> None:
    cfg = config(service, versions, connection)
    if not current(connection):
        existing = set(inspect(connection).get_table_names())
        if any(owned_tables(service)(name) for name in existing):
            # Made by create_all before migrations: that schema is each branch's base.
            command.stamp(cfg, bases(cfg))
    command.upgrade(cfg, revision)


async def upgrade(
    engine: AsyncEngine, service: str, versions: Path, revision: str = "heads"
) -> None:
    """Bring the service's database to `revision` (all heads by default) in one transaction
    (PostgreSQL); SQLite commits DDL per statement, and each revision is recorded as it completes."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, service, versions, revision)


async def revisions_applied(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(current)


def pending(connection: Connection, service: str, versions: Path) -> set[str]:
    """Revisions not yet applied: empty when the schema is current. (The
    version table lists only the newest revisions; what they depend on, on
    svckit's branch, is applied with them.)"""
    script = ScriptDirectory.from_config(config(service, versions, connection))
    everything = {r.revision for r in script.walk_revisions()}
    applied = current(connection)
    if applied:
        applied = {r.revision for r in script.iterate_revisions(tuple(applied), "base")}
    return everything - applied


async def pending_revisions(engine: AsyncEngine, service: str, versions: Path) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(pending, service, versions)


def differences(connection: Connection, service: str, metadata: Any) -> list[Any]:
    """What the database lacks or has beyond `metadata` for the service's tables
    (Alembic's autogenerate comparison): empty when migrations and models agree."""
    from alembic.autogenerate import compare_metadata

    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_object": object_filter(owned_tables(service))},
    )
    return list(compare_metadata(context, metadata))
