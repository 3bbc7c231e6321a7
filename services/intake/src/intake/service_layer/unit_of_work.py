"""Intake's unit of work: svckit's transaction with the case repository attached."""

from __future__ import annotations

from intake.adapters.repository import CaseRepository
from svckit.uow import SqlUnitOfWork


class IntakeUnitOfWork(SqlUnitOfWork):
    cases: CaseRepository

    def _open(self) -> None:
        self.cases = CaseRepository(self.session)
