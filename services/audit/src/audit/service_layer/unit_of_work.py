"""Audit's unit of work: one transaction over the ledger, the cases, the
outbox and the inbox."""

from __future__ import annotations

from audit.adapters.repository import CaseRepository, LedgerRepository
from svckit.uow import SqlUnitOfWork


class AuditUnitOfWork(SqlUnitOfWork):
    """Attaches audit's repositories to each transaction's session."""

    ledger: LedgerRepository
    cases: CaseRepository

    def _open(self) -> None:
        self.ledger = LedgerRepository(self.session)
        self.cases = CaseRepository(self.session)
