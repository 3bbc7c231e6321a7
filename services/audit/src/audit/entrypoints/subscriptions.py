"""Audit consumes every stream, its own included: each event becomes one
ledger entry, whoever produced it and whatever its type."""

from __future__ import annotations

from audit.entrypoints.ledger_worker import subscribe
from audit.service_layer import handlers
from audit.service_layer.context import AuditContext
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import PRODUCERS
from svckit.runtime import ServiceRuntime


async def subscribe_all(runtime: ServiceRuntime[AuditUnitOfWork], ctx: AuditContext) -> None:
    """One durable consumer `audit-<producer>` per stream, on every subject of it."""

    async def on_event(event: IncomingEvent, uow: AuditUnitOfWork, body: bytes | None) -> None:
        await handlers.record_event(event, uow, ctx, body)

    for producer in PRODUCERS:
        await subscribe(runtime, producer, on_event, handlers.prepare_batch)
