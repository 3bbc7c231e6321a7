"""`python -m audit verify-ledger`: recompute the chain offline, straight from
the database, for an auditor or a cron job (exit status 1 on a bad ledger)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import OperationalError

from audit.domain.model import ChainCheck
from audit.service_layer import handlers
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit import db

EXIT_OK, EXIT_BAD_LEDGER, EXIT_NO_LEDGER = 0, 1, 2


async def verify_ledger(database_url: str, out: TextIO | None = None) -> int:
    """Print the result of verifying the ledger at `database_url` (to stdout by
    default); return the exit status."""
    out = out or sys.stdout
    if _missing_sqlite_file(database_url):
        print(f"no audit ledger at {database_url}: no such file", file=out)
        return EXIT_NO_LEDGER
    engine = db.create_engine(database_url)
    try:
        check = await handlers.verify_ledger(AuditUnitOfWork(engine, "audit"))
    except OperationalError as exc:
        print(f"no audit ledger at {database_url}: {exc.orig}", file=out)
        return EXIT_NO_LEDGER
    finally:
        await engine.dispose()
    print(describe(check), file=out)
    return EXIT_OK if check.ok else EXIT_BAD_LEDGER


def _missing_sqlite_file(url: str) -> bool:
    """Checking must not create an empty database where a ledger was expected."""
    if not url.startswith("sqlite"):
        return False
    path = url.split(":///", 1)[-1]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def describe(check: ChainCheck) -> str:
    if check.ok:
        return f"ledger ok: {check.entries_checked} entries checked"
    return (
        f"ledger BAD at sequence {check.first_bad_sequence} "
        f"({check.entries_checked} entries checked): {check.problem}"
    )
