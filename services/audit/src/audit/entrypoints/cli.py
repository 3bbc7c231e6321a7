"""Offline commands for an auditor or a cron job, straight from the database:

- `verify-ledger`: recompute entries, chain, Merkle tree and signed tree
  heads (exit 1 on a bad ledger, 2 when there is none);
- `dossier CASE_ID --format html|json`: print a case's dossier; read-only,
  so entries newer than the latest signed head are marked unproven.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from sqlalchemy.exc import OperationalError

from audit.adapters import dossier_render
from audit.adapters.signing import TrustedKeys
from audit.domain.model import LedgerCheck
from audit.service_layer import ledger
from audit.service_layer.dossier import build_dossier
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit import db
from svckit.errors import NotFoundError

EXIT_OK, EXIT_BAD_LEDGER, EXIT_NO_LEDGER = 0, 1, 2


class NoLedgerError(Exception):
    pass


@asynccontextmanager
async def _ledger(database_url: str) -> AsyncIterator[AuditUnitOfWork]:
    if _missing_sqlite_file(database_url):
        raise NoLedgerError(f"no audit ledger at {database_url}: no such file")
    engine = db.create_engine(database_url)
    try:
        yield AuditUnitOfWork(engine, "audit")
    except OperationalError as exc:
        raise NoLedgerError(f"no audit ledger at {database_url}: {exc.orig}") from exc
    finally:
        await engine.dispose()


async def verify_ledger(database_url: str, trusted: TrustedKeys, out: TextIO | None = None) -> int:
    """Print the result of verifying the ledger at `database_url` (to stdout by
    default); return the exit status."""
    out = out or sys.stdout
    try:
        async with _ledger(database_url) as uow:
            check = await ledger.verify_ledger(uow, trusted)
    except NoLedgerError as exc:
        print(exc, file=out)
        return EXIT_NO_LEDGER
    print(describe(check), file=out)
    return EXIT_OK if check.ok else EXIT_BAD_LEDGER


async def dossier(
    database_url: str,
    case_id: str,
    fmt: str,
    trusted: TrustedKeys,
    out: BinaryIO | None = None,
) -> int:
    """Write the case's dossier as HTML or JSON; exit 2 without a ledger or case."""
    out = out or sys.stdout.buffer
    render = dossier_render.dossier_html if fmt == "html" else dossier_render.dossier_json
    try:
        async with _ledger(database_url) as uow:
            content = render(await build_dossier(uow, case_id, trusted, signer=None))
    except (NoLedgerError, NotFoundError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_LEDGER
    out.write(content)
    out.flush()
    return EXIT_OK


def _missing_sqlite_file(url: str) -> bool:
    """Checking must not create an empty database where a ledger was expected."""
    if not url.startswith("sqlite"):
        return False
    path = url.split(":///", 1)[-1]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def describe(check: LedgerCheck) -> str:
    if check.ok:
        return (
            f"ledger ok: {check.entries_checked} entries checked, "
            f"{check.tree_heads_checked} signed tree heads, root {check.root_hash.hex()}"
        )
    return (
        f"ledger BAD at sequence {check.first_bad_sequence} "
        f"({check.entries_checked} entries checked): {check.problem}"
    )
