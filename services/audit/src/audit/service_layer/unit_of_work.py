"""Audit's unit of work: one transaction over the ledger, the cases, the
outbox and the inbox; and read-only snapshots that take no write lock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from audit.adapters.ledger_repository import LedgerRepository
from audit.adapters.repository import CaseRepository, DetectionRepository
from svckit import db
from svckit.uow import SqlUnitOfWork


@dataclass(frozen=True)
class Snapshot:
    """Repositories over one read transaction: a consistent view of the
    ledger however long the reading takes (verifying a million entries),
    while appends go on."""

    ledger: LedgerRepository
    cases: CaseRepository


class AuditUnitOfWork(SqlUnitOfWork):
    """Attaches audit's repositories to each transaction's session."""

    ledger: LedgerRepository
    cases: CaseRepository
    detections: DetectionRepository

    def _open(self) -> None:
        self.ledger = LedgerRepository(self.session)
        self.cases = CaseRepository(self.session, self.ledger.write_links)
        self.detections = DetectionRepository(self.session, self.ledger.write_links)

    async def _write_buffered(self) -> None:
        """Ledger appends, new detections and saved cases."""
        await self.ledger.write_pending()
        await self.detections.write_pending()
        await self.cases.write_pending()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        """A read-only view without the write lock `async with uow` takes (on
        SQLite, WAL readers never block the appender nor wait for it)."""
        session = self._sessions()
        try:
            if db.is_sqlite(self.engine):
                # pysqlite runs each SELECT in its own implicit transaction;
                # an explicit BEGIN makes the reads below one snapshot.
                await (await session.connection()).exec_driver_sql("BEGIN")
            else:
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield Snapshot(LedgerRepository(session), CaseRepository(session))
        finally:
            await session.rollback()
            await session.close()
