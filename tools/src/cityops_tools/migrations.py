"""Writing and checking schema migrations (svckit.migrations applies them).

    python -m cityops_tools.migrations revision dispatch -m "suspension clock"
    python -m cityops_tools.migrations revision svckit -m "dead letter index"
    python -m cityops_tools.migrations check            # every service: models == migrations

`revision` applies the existing chain to a scratch SQLite database, compares
it with the owner's tables as the code declares them, and writes what
differs as a new revision on the owner's branch (the first one starts the
branch). Read it before committing: Alembic cannot tell a rename from a
drop and an add.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db, migrations

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")


def versions_of(service: str) -> Path:
    module = importlib.import_module(f"{service}.adapters.migrations")
    path: Path = module.VERSIONS
    return path


def load_tables(service: str) -> None:
    """Register the service's tables (and svckit's) in SQLModel's metadata."""
    importlib.import_module("svckit.tables")
    importlib.import_module(f"{service}.adapters.tables")


async def _revision(owner: str, message: str) -> str:
    service = SERVICES[0] if owner == migrations.SVCKIT_BRANCH else owner
    versions = versions_of(service)
    load_tables(service)
    with tempfile.TemporaryDirectory() as scratch:
        engine = db.create_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            await migrations.upgrade(engine, service, versions)
            return await _write(engine, owner, service, versions, message)
        finally:
            await engine.dispose()


async def _write(
    engine: AsyncEngine, owner: str, service: str, versions: Path, message: str
) -> str:
    async with engine.begin() as conn:

        def write(connection: object) -> str:
            cfg = migrations.config(service, versions, connection)  # type: ignore[arg-type]
            if owner == migrations.SVCKIT_BRANCH:
                cfg.attributes["include_table"] = migrations.SVCKIT_TABLES.__contains__
                path = migrations.SVCKIT_VERSIONS
            else:
                own = migrations.owned_tables(service)
                cfg.attributes["include_table"] = lambda name: (
                    own(name) and name not in migrations.SVCKIT_TABLES
                )
                path = versions
            has_branch = any(
                owner in (script.branch_labels or ())
                for script in ScriptDirectory.from_config(cfg).walk_revisions()
            )
            script = command.revision(
                cfg,
                message=message,
                autogenerate=True,
                head=f"{owner}@head" if has_branch else "base",
                branch_label=None if has_branch else owner,
                version_path=str(path),
            )
            return str(getattr(script, "path", script))

        return await conn.run_sync(write)


async def _check(service: str) -> list[str]:
    """Differences between the migrated schema and the models, as text."""
    load_tables(service)
    from sqlmodel import SQLModel

    with tempfile.TemporaryDirectory() as scratch:
        engine = db.create_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'check.db'}")
        try:
            await migrations.upgrade(engine, service, versions_of(service))
            async with engine.connect() as conn:
                found = await conn.run_sync(migrations.differences, service, SQLModel.metadata)
        finally:
            await engine.dispose()
    return [repr(d) for d in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityops_tools.migrations", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revision", help="write a new revision from the models' changes")
    rev.add_argument("owner", choices=[migrations.SVCKIT_BRANCH, *SERVICES])
    rev.add_argument("-m", "--message", required=True)
    check = sub.add_parser("check", help="fail when a service's models differ from its migrations")
    check.add_argument("services", nargs="*", metavar="service", help=", ".join(SERVICES))
    args = parser.parse_args(argv)
    if args.command == "revision":
        print(asyncio.run(_revision(args.owner, args.message)))
        return 0
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    failed = False
    for service in args.services or SERVICES:
        found = asyncio.run(_check(service))
        print(f"{service}: {'ok' if not found else 'models differ from migrations'}")
        for line in found:
            print(f"  {line}")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
