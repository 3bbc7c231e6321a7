"""Intake's unit of work: svckit's transaction with intake's repositories attached."""

from __future__ import annotations

from intake.adapters.discards import DiscardRepository
from intake.adapters.fusion_index import FusionIndex
from intake.adapters.repository import CaseRepository
from svckit.uow import SqlUnitOfWork


class IntakeUnitOfWork(SqlUnitOfWork):
    cases: CaseRepository
    fusion: FusionIndex
    discards: DiscardRepository

    def _open(self) -> None:
        self.cases = CaseRepository(self.session)
        self.fusion = FusionIndex(self.session)
        self.discards = DiscardRepository(self.session)

    async def _write_buffered(self) -> None:
        await self.cases.write_pending()
        await self.fusion.write_pending()
