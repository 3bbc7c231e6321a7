"""Dispatch's unit of work: one transaction for a decision, its events, timers and inbox row."""

from __future__ import annotations

from dispatch.adapters.repository import AssignmentRepository, CaseRepository
from dispatch.adapters.stores import (
    ArbitrationRepository,
    ExtensionRepository,
    RuleRepository,
    SuspensionRepository,
    TimerRepository,
)
from dispatch.domain.matrix import ResponsibilityMatrix
from svckit.uow import SqlUnitOfWork


class DispatchUnitOfWork(SqlUnitOfWork):
    cases: CaseRepository
    assignments: AssignmentRepository
    rules: RuleRepository
    timers: TimerRepository
    extensions: ExtensionRepository
    arbitrations: ArbitrationRepository
    suspensions: SuspensionRepository
    # The catalogue as checked once in this transaction (see CatalogueCache).
    matrix: ResponsibilityMatrix | None = None

    def _open(self) -> None:
        self.matrix = None
        self.cases = CaseRepository(self.session)
        self.assignments = AssignmentRepository(self.session)
        self.rules = RuleRepository(self.session)
        self.timers = TimerRepository(self.session)
        self.extensions = ExtensionRepository(self.session)
        self.arbitrations = ArbitrationRepository(self.session)
        self.suspensions = SuspensionRepository(self.session)

    async def _write_buffered(self) -> None:
        """The rows added in this transaction: one executemany per table."""
        await self.cases.write()
        await self.assignments.write()
        await self.timers.write()

    def _discard_buffered(self) -> None:
        # rollback also runs when leaving a unit of work that never opened repositories.
        if "cases" in self.__dict__:
            self.cases.discard()
            self.assignments.discard()
            self.timers.discard()
