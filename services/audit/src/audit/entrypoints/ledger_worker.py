"""The pull worker audit records with: svckit's, plus two things before a
batch is handled (svckit has no hook for them; see the service README):

- an event type this build has no code for is made decodable (a placeholder
  type) rather than dead-lettered: every event reaches the ledger;
- the bodies as received are kept for the handler, so the ledger stores the
  exact bytes the producer published.

The worker is made by `runtime.subscribe` (streams, durable consumer, ack
wait, replicas, metrics: all svckit's) and then adopted as a LedgerWorker,
so audit never re-implements the subscription.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from nats.aio.msg import Msg

from audit.adapters.unknown_types import ensure_decodable
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.messaging.consumer import Prepare, PullWorker
from svckit.messaging.envelope import IncomingEvent
from svckit.runtime import ServiceRuntime

Bodies = dict[str, bytes]
"""ce-id → body of the messages of the batch in hand."""

RecordingHandler = Callable[[IncomingEvent, AuditUnitOfWork, bytes | None], Awaitable[None]]


class LedgerWorker(PullWorker[AuditUnitOfWork]):
    _bodies: Bodies

    @classmethod
    def adopt(cls, worker: PullWorker[AuditUnitOfWork], bodies: Bodies) -> LedgerWorker:
        """Turn the worker svckit built into a LedgerWorker (same object, same
        state: it is already registered with the runtime and its metrics)."""
        worker.__class__ = cls
        adopted = cast(LedgerWorker, worker)
        adopted._bodies = bodies
        return adopted

    async def handle_batch(self, msgs: list[Msg]) -> None:
        ids = []
        for msg in msgs:
            headers = msg.headers or {}
            if headers.get("ce-type"):
                ensure_decodable(headers["ce-type"])
            if headers.get("ce-id"):
                ids.append(headers["ce-id"])
                self._bodies[headers["ce-id"]] = msg.data
        try:
            await super().handle_batch(msgs)
        finally:
            for message_id in ids:
                self._bodies.pop(message_id, None)


async def subscribe(
    runtime: ServiceRuntime[AuditUnitOfWork],
    producer: str,
    handler: RecordingHandler,
    prepare: Prepare[AuditUnitOfWork] | None = None,
) -> LedgerWorker:
    """`runtime.subscribe` (one durable consumer `audit-<producer>` on every
    subject of the producer's stream), with a LedgerWorker."""
    bodies: Bodies = {}

    async def on_event(event: IncomingEvent, uow: AuditUnitOfWork) -> None:
        await handler(event, uow, bodies.get(event.id))

    return LedgerWorker.adopt(await runtime.subscribe(producer, on_event, prepare=prepare), bodies)
