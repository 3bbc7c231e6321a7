"""Which streams workorders consumes and which handler each subject goes to.

Verification results (rework, closure) arrive in a later issue; today only
dispatches create work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED
from workorders.service_layer import handlers
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork


@dataclass(frozen=True)
class Subscription:
    producer: str
    handler: Callable[[IncomingEvent, WorkOrdersUnitOfWork], Awaitable[None]]
    subjects: tuple[str, ...]


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("dispatch", handlers.on_case_dispatched, (CASE_DISPATCHED,)),
)
