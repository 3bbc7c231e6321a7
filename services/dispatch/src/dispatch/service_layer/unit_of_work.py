"""Dispatch's unit of work: one transaction for a decision, its event and its inbox row."""

from __future__ import annotations

from dispatch.adapters.repository import DecisionRepository
from svckit.uow import SqlUnitOfWork


class DispatchUnitOfWork(SqlUnitOfWork):
    decisions: DecisionRepository

    def _open(self) -> None:
        self.decisions = DecisionRepository(self.session)
