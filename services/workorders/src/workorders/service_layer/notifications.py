"""Department webhooks: a delivery row is written in the transaction of the
change it announces; the delivery loop sends due rows, signed, and records
every attempt, retrying with exponential backoff.

The loop claims a batch (pushing its next attempt past a lease) in one short
transaction and posts outside any transaction, so a slow receiver never holds
the database; a crash mid-post only means the lease runs out and the
delivery is tried again (receivers de-duplicate by `X-CityOps-Delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from svckit.clock import new_id, utcnow
from svckit.logging import get_logger
from workorders.domain.model import WorkOrder
from workorders.domain.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    AttemptResult,
    Delivery,
    NotificationKind,
    RetryPolicy,
    body,
    order_summary,
    sign,
)
from workorders.service_layer.ports import Notifier, WebhookSender
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

log = get_logger(__name__)


def notify(
    uow: WorkOrdersUnitOfWork,
    notifier: Notifier,
    order: WorkOrder,
    kind: NotificationKind,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Owe the order's department a webhook, if it has one (in `uow`'s transaction)."""
    endpoint = notifier.webhooks.endpoint_for(order.department_id)
    if endpoint is None:
        return
    delivery_id = new_id("WH-")
    data = {"order": order_summary(order), **(extra or {})}
    uow.deliveries.add(
        Delivery(
            delivery_id=delivery_id,
            department_id=order.department_id,
            kind=kind,
            order_id=order.order_id,
            case_id=order.case_id,
            url=endpoint.url,
            body=body(delivery_id=delivery_id, kind=kind, occurred_at=now, data=data),
            created_at=now,
            next_attempt_at=now,
        )
    )


class DeliveryLoop:
    """The component that sends owed webhooks until stopped."""

    def __init__(
        self,
        uow: Callable[[], WorkOrdersUnitOfWork],
        sender: WebhookSender,
        notifier: Notifier,
        retry: RetryPolicy,
        *,
        poll_seconds: float,
        lease: timedelta,
        batch: int = 20,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._notifier = notifier
        self._retry = retry
        self._poll = poll_seconds
        self._lease = lease
        self._batch = batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="webhook-deliveries")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=15)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # keep delivering; the next pass retries
                log.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)

    async def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were attempted."""
        claimed = await self._claim(utcnow())
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _claim(self, now: datetime) -> list[Delivery]:
        async with self._uow() as uow:
            due = await uow.deliveries.due(now, self._batch)
            for delivery in due:
                delivery.next_attempt_at = now + self._lease
                await uow.deliveries.save(delivery)
            await uow.commit()
        return due

    async def _attempt(self, delivery: Delivery) -> None:
        endpoint = self._notifier.webhooks.endpoint_for(delivery.department_id)
        if endpoint is None:
            result = AttemptResult(None, "no webhook is configured for the department")
            url = delivery.url
        else:
            # The current endpoint: a department that moved its URL or rotated
            # its secret gets its retries there, signed with the new secret.
            url = endpoint.url
            stamp = int(utcnow().timestamp())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "cityops-workorders",
                SIGNATURE_HEADER: sign(endpoint.secret, stamp, delivery.body),
                DELIVERY_HEADER: delivery.delivery_id,
                EVENT_HEADER: delivery.kind.value,
            }
            result = await self._sender.post(url, delivery.body, headers)
        await self._record(delivery.delivery_id, url, result)

    async def _record(self, delivery_id: str, url: str, result: AttemptResult) -> None:
        now = utcnow()
        async with self._uow() as uow:
            delivery = await uow.deliveries.get(delivery_id)
            if delivery is None:
                return
            delivery.url = url
            delivery.record(result, now, self._retry)
            uow.deliveries.add_attempt(delivery, result, now)
            await uow.deliveries.save(delivery)
            await uow.commit()
        log.info(
            "webhook attempt",
            case_id=delivery.case_id,
            order_id=delivery.order_id,
            delivery_id=delivery_id,
            attempt=delivery.attempts,
            status_code=result.status_code,
            error=result.error[:200],
            status=delivery.status.value,
        )
