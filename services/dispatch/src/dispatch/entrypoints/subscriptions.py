"""What dispatch consumes: one durable consumer per producer stream, filtered to its subjects."""

from __future__ import annotations

from functools import partial

from dispatch.service_layer import handlers
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.messaging.subjects import (
    CASE_CLOSED,
    CASE_FILED,
    WORKORDER_COMPLETED,
    WORKORDER_EXTENSION_REQUESTED,
    WORKORDER_REOPENED,
    WORKORDER_RETURNED,
    subject,
)
from svckit.runtime import ServiceRuntime

CASE_RECLASSIFIED = subject("intake", "case", "reclassified")
CASE_MERGED = subject("intake", "case", "merged")
CASE_URGENCY_CHANGED = subject("intake", "case", "urgency_changed")


async def subscribe(runtime: ServiceRuntime[DispatchUnitOfWork], ctx: DispatchContext) -> None:
    """``dispatch-intake``, ``dispatch-workorders`` and ``dispatch-audit``."""
    await runtime.subscribe(
        "intake",
        partial(handlers.on_intake_event, ctx=ctx),
        [CASE_FILED, CASE_RECLASSIFIED, CASE_MERGED, CASE_URGENCY_CHANGED],
        prepare=handlers.prepare_batch,
    )
    await runtime.subscribe(
        "workorders",
        partial(handlers.on_workorders_event, ctx=ctx),
        [
            WORKORDER_RETURNED,
            WORKORDER_EXTENSION_REQUESTED,
            WORKORDER_COMPLETED,
            WORKORDER_REOPENED,
        ],
        prepare=handlers.prepare_batch,
    )
    await runtime.subscribe(
        "audit",
        partial(handlers.on_audit_event, ctx=ctx),
        [CASE_CLOSED],
        prepare=handlers.prepare_batch,
    )
