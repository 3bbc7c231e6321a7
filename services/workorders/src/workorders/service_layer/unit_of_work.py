"""The workorders transaction: orders, evidence metadata, webhook deliveries,
their outbox rows and inbox rows commit together."""

from __future__ import annotations

from svckit.uow import SqlUnitOfWork
from workorders.adapters.delivery_repository import DeliveryRepository
from workorders.adapters.evidence_repository import EvidenceRepository
from workorders.adapters.repository import WorkOrderRepository


class WorkOrdersUnitOfWork(SqlUnitOfWork):
    orders: WorkOrderRepository
    evidence: EvidenceRepository
    deliveries: DeliveryRepository

    def _open(self) -> None:
        self.orders = WorkOrderRepository(self.session)
        self.evidence = EvidenceRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)

    async def _write_buffered(self) -> None:
        await self.orders.write_pending()
        await self.evidence.write_pending()
