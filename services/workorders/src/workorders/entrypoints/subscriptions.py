"""Which streams workorders consumes and which handler each goes to: one
durable consumer per producer (`workorders-dispatch`, `workorders-audit`),
filtered to the subjects workorders acts on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import (
    CASE_DISPATCHED,
    CASE_ESCALATED,
    CASE_REDISPATCHED,
    CASE_RESUMED,
    CASE_REWORK,
    EXTENSION_DECIDED,
)
from workorders.service_layer import handlers
from workorders.service_layer.ports import Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

Handler = Callable[[IncomingEvent, WorkOrdersUnitOfWork], Awaitable[None]]
Routed = Callable[[IncomingEvent, WorkOrdersUnitOfWork, Notifier], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    producer: str
    handler: Handler
    subjects: tuple[str, ...]


def subscriptions(notifier: Notifier) -> tuple[Subscription, ...]:
    """The handlers bound to the notifier (which departments get webhooks)."""
    return (
        Subscription(
            "dispatch",
            _bind(handlers.on_dispatch_event, notifier),
            (
                CASE_DISPATCHED,
                CASE_REDISPATCHED,
                CASE_ESCALATED,
                EXTENSION_DECIDED,
                CASE_RESUMED,
            ),
        ),
        Subscription("audit", _bind(handlers.on_audit_event, notifier), (CASE_REWORK,)),
    )


def _bind(handler: Routed, notifier: Notifier) -> Handler:
    async def on_event(event: IncomingEvent, uow: WorkOrdersUnitOfWork) -> None:
        await handler(event, uow, notifier)

    return on_event
