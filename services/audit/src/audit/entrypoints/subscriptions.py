"""Audit consumes every stream, its own included: each event becomes one
ledger entry, whoever produced it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from audit.adapters.integration_events import EventTranslator
from audit.service_layer import handlers
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import PRODUCERS
from svckit.runtime import ServiceRuntime

Handler = Callable[[IncomingEvent, AuditUnitOfWork], Awaitable[None]]


def ledger_handler(translator: EventTranslator) -> Handler:
    """`handlers.record_event` bound to the translator (which knows the catalogue)."""

    async def on_event(event: IncomingEvent, uow: AuditUnitOfWork) -> None:
        await handlers.record_event(event, uow, translator)

    return on_event


async def subscribe_all(
    runtime: ServiceRuntime[AuditUnitOfWork], translator: EventTranslator
) -> None:
    """One durable consumer `audit-<producer>` per stream, on every subject of it."""
    handler = ledger_handler(translator)
    for producer in PRODUCERS:
        await runtime.subscribe(producer, handler)
