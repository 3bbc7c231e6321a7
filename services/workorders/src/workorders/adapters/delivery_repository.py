"""The only code that queries the webhook delivery and attempt tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workorders.adapters.tables import WebhookAttemptRow, WebhookDeliveryRow
from workorders.domain.notifications import (
    AttemptRecord,
    AttemptResult,
    Delivery,
    DeliveryStatus,
    NotificationKind,
)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, delivery: Delivery) -> None:
        self._session.add(WebhookDeliveryRow(**_columns(delivery)))

    async def get(self, delivery_id: str) -> Delivery | None:
        row = await self._session.get(WebhookDeliveryRow, delivery_id)
        return _to_domain(row) if row else None

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first."""
        query = (
            select(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
                col(WebhookDeliveryRow.next_attempt_at) <= now,
            )
            .order_by(col(WebhookDeliveryRow.next_attempt_at), col(WebhookDeliveryRow.delivery_id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_to_domain(row) for row in (await self._session.exec(query)).all()]

    async def find(self, *, order_id: str = "", department_id: str = "") -> list[Delivery]:
        query = select(WebhookDeliveryRow)
        if order_id:
            query = query.where(WebhookDeliveryRow.order_id == order_id)
        if department_id:
            query = query.where(WebhookDeliveryRow.department_id == department_id)
        query = query.order_by(col(WebhookDeliveryRow.created_at), col(WebhookDeliveryRow.kind))
        return [_to_domain(row) for row in (await self._session.exec(query)).all()]

    async def save(self, delivery: Delivery) -> None:
        row = await self._session.get(WebhookDeliveryRow, delivery.delivery_id)
        if row is None:
            raise LookupError(f"delivery {delivery.delivery_id} was never added")
        for name, value in _columns(delivery).items():
            setattr(row, name, value)
        self._session.add(row)

    def add_attempt(self, delivery: Delivery, result: AttemptResult, at: datetime) -> None:
        """Record the attempt numbered `delivery.attempts` (count it first)."""
        self._session.add(
            WebhookAttemptRow(
                delivery_id=delivery.delivery_id,
                attempt=delivery.attempts,
                attempted_at=at,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )

    async def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        query = (
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id == delivery_id)
            .order_by(col(WebhookAttemptRow.attempt))
        )
        return [
            AttemptRecord(
                row.attempt,
                row.attempted_at,
                AttemptResult(row.status_code, row.error, row.duration_ms),
            )
            for row in (await self._session.exec(query)).all()
        ]


def _columns(d: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "department_id": d.department_id,
        "kind": d.kind.value,
        "order_id": d.order_id,
        "case_id": d.case_id,
        "url": d.url,
        "body": d.body,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
    }


def _to_domain(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        delivery_id=row.delivery_id,
        department_id=row.department_id,
        kind=NotificationKind(row.kind),
        order_id=row.order_id,
        case_id=row.case_id,
        url=row.url,
        body=row.body,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )
