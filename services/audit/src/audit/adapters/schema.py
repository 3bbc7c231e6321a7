"""A start-up check that the database was made by this version.

Tables are created at start (svckit), which never alters an existing one;
until migrations exist (the fault-tolerance issue), a database from before
the Merkle ledger is refused with instructions instead of failing on the
first append.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.adapters.tables import CaseRow, LedgerEntryRow

REQUIRED = {
    LedgerEntryRow.__tablename__: ("leaf_hash", "payload"),
    CaseRow.__tablename__: ("category_code", "completed_at", "machine_verified"),
}


class OutdatedSchemaError(RuntimeError):
    pass


async def check_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        missing = await conn.run_sync(_missing)
    if missing:
        raise OutdatedSchemaError(
            f"the audit database {engine.url.render_as_string(hide_password=True)} predates "
            f"the Merkle ledger (missing columns: {', '.join(missing)}); move it aside "
            "(development: delete var/db/audit.db) and restart; the new ledger starts empty"
        )


def _missing(conn: Connection) -> list[str]:
    inspector = inspect(conn)
    found = []
    for table, columns in REQUIRED.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        found += [f"{table}.{c}" for c in columns if c not in have]
    return found
