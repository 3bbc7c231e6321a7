"""Dispatch's unit of work: one transaction for a decision, its events, timers and inbox row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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

    async def commit(self) -> None:
        """The rows added in this transaction (one executemany per table), then the rest."""
        await self._write_new()
        await super().commit()

    async def rollback(self) -> None:
        self._discard_new()
        await super().rollback()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """As svckit's, with the new rows written before it begins (so its rollback
        undoes exactly the rows added inside it, which are then forgotten)."""
        await self._write_new()
        try:
            async with super().savepoint():
                yield
        except BaseException:
            self._discard_new()
            raise

    async def _write_new(self) -> None:
        await self.cases.write()
        await self.assignments.write()
        await self.timers.write()

    def _discard_new(self) -> None:
        # rollback also runs when leaving a unit of work that never opened repositories.
        if "cases" in self.__dict__:
            self.cases.discard()
            self.assignments.discard()
            self.timers.discard()
