"""The workorders transaction: orders, their outbox rows and inbox rows commit together."""

from __future__ import annotations

from svckit.uow import SqlUnitOfWork
from workorders.adapters.repository import WorkOrderRepository


class WorkOrdersUnitOfWork(SqlUnitOfWork):
    orders: WorkOrderRepository

    def _open(self) -> None:
        self.orders = WorkOrderRepository(self.session)
