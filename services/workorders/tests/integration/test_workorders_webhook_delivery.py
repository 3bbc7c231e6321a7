"""The webhook delivery loop against a real HTTP server on 127.0.0.1: signed
posts, a 500 retried with backoff until a 200, every attempt recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from svckit.clock import utcnow
from svckit.messaging.envelope import IncomingEvent
from svckit.testing.polling import eventually
from workorders.adapters.webhook_sender import HttpWebhookSender
from workorders.domain.notifications import (
    Delivery,
    DeliveryStatus,
    RetryPolicy,
    WebhookDirectory,
    WebhookEndpoint,
)
from workorders.service_layer import handlers
from workorders.service_layer.notifications import DeliveryLoop
from workorders.service_layer.ports import Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

SECRET = "department-secret-0123456789"
RETRY = RetryPolicy(base=timedelta(milliseconds=50), cap=timedelta(seconds=1), max_attempts=3)


def verify(header: str, raw: bytes) -> bool:
    """Independent of the service's code: the documented scheme only."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + raw, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


def uow_of(engine: AsyncEngine) -> WorkOrdersUnitOfWork:
    return WorkOrdersUnitOfWork(engine, "workorders")


async def dispatch_to_water(engine: AsyncEngine, notifier: Notifier) -> None:
    msg = dispatch_events.CaseDispatched(
        case_id="C-1", dispatch_id="D-1", department_id="water", title="井盖缺失"
    )
    event = IncomingEvent(
        id="E-1",
        type=msg.DESCRIPTOR.full_name,
        source="/cityops/dispatch",
        subject="",
        case_id="C-1",
        time=utcnow(),
        message=msg,
        headers={},
    )
    async with uow_of(engine) as uow:
        await handlers.on_dispatch_event(event, uow, notifier)
        await uow.commit()


async def only_delivery(engine: AsyncEngine) -> Delivery:
    async with uow_of(engine) as uow:
        [delivery] = await uow.deliveries.find(department_id="water")
        return delivery


async def run_loop_until(engine: AsyncEngine, notifier: Notifier, status: DeliveryStatus) -> None:
    sender = HttpWebhookSender(timeout_seconds=5)
    loop = DeliveryLoop(
        lambda: uow_of(engine),
        sender,
        notifier,
        RETRY,
        poll_seconds=0.02,
        lease=timedelta(seconds=30),
    )
    await loop.start()
    try:

        async def settled() -> bool:
            return (await only_delivery(engine)).status is status

        await eventually(settled, timeout=15)
    finally:
        await loop.stop()
        await sender.close()


async def test_a_500_is_retried_until_delivered_and_every_attempt_is_kept(
    db_engine: AsyncEngine, receiver: Any
) -> None:
    notifier = Notifier(WebhookDirectory({"water": WebhookEndpoint("water", receiver.url, SECRET)}))
    await dispatch_to_water(db_engine, notifier)
    await run_loop_until(db_engine, notifier, DeliveryStatus.DELIVERED)

    delivery = await only_delivery(db_engine)
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    assert delivery.delivered_at is not None
    async with uow_of(db_engine) as uow:
        attempts = await uow.deliveries.attempts(delivery.delivery_id)
    assert [(a.attempt, a.result.status_code, a.result.error) for a in attempts] == [
        (1, 500, "boom"),
        (2, 200, ""),
    ]
    assert attempts[1].attempted_at > attempts[0].attempted_at

    assert len(receiver.received) == 2
    for headers, raw in receiver.received:
        assert verify(headers["x-cityops-signature"], raw)
        assert headers["x-cityops-delivery"] == delivery.delivery_id
        assert headers["x-cityops-event"] == "workorder.created"
        assert not verify(headers["x-cityops-signature"], raw + b" ")
    document = json.loads(receiver.received[0][1])
    assert document["type"] == "workorder.created"
    assert document["data"]["order"]["title"] == "井盖缺失"
    assert document["data"]["order"]["order_id"] == delivery.order_id


async def test_an_unreachable_endpoint_is_given_up_after_the_last_attempt(
    db_engine: AsyncEngine,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    notifier = Notifier(WebhookDirectory({"water": WebhookEndpoint("water", url, SECRET)}))
    await dispatch_to_water(db_engine, notifier)
    await run_loop_until(db_engine, notifier, DeliveryStatus.FAILED)
    delivery = await only_delivery(db_engine)
    assert (delivery.attempts, delivery.last_status_code, delivery.delivered_at) == (3, None, None)
    assert "Connect" in delivery.last_error
    async with uow_of(db_engine) as uow:
        attempts = await uow.deliveries.attempts(delivery.delivery_id)
    assert [a.attempt for a in attempts] == [1, 2, 3]
