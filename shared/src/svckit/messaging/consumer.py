"""Durable pull worker: fetch a batch, handle it in one transaction with an
inbox row per message, commit, then ack.

Failure handling (DESIGN §5):
- a message already in the inbox is acked and skipped (delivered twice, one effect);
- undecodable or invalid (`PermanentError`) → dead-letter row + `term()`;
- anything else is transient → `nak(delay)` with growing delay; after
  `max_attempts` deliveries it is dead-lettered so it never blocks the stream;
- if a batch fails, its messages are retried one per transaction so a poison
  message is isolated and the good ones behind it go through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from svckit.clock import utcnow
from svckit.errors import PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent, unwrap
from svckit.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_BATCH_MESSAGES,
    CONSUMER_PENDING,
    CONSUMER_REDELIVERED,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    HANDLER_SECONDS,
)
from svckit.tables import DeadLetter
from svckit.telemetry import extract_context
from svckit.uow import SqlUnitOfWork

log = get_logger(__name__)
tracer = trace.get_tracer("svckit.consumer")

U = TypeVar("U", bound=SqlUnitOfWork)

# Reads a batch's rows in a few `IN` queries before its handlers run, so each
# handler finds them in its repositories instead of querying one by one. It
# must not change anything: a handler that finds nothing preloaded still reads
# what it needs itself.
Prepare = Callable[[list[IncomingEvent], U], Awaitable[None]]


class PullWorker(Generic[U]):
    def __init__(
        self,
        *,
        consumer: str,
        subscription: JetStreamContext.PullSubscription,
        stream: str,
        uow_factory: Callable[[], U],
        handler: Callable[[IncomingEvent, U], Awaitable[None]],
        batch: int = 128,
        fetch_timeout: float = 1.0,
        max_attempts: int = 10,
        prepare: Prepare[U] | None = None,
    ) -> None:
        self.consumer = consumer
        self._sub = subscription
        self._stream = stream
        self._uow_factory = uow_factory
        self._handler = handler
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._max_attempts = max_attempts
        self._prepare = prepare
        self._stopping = asyncio.Event()
        self.handled = 0
        self.dead_lettered = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await self._fetch()
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:  # connection loss: the client reconnects
                if self._stopping.is_set():
                    return
                log.warning("fetch failed", consumer=self.consumer, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            await self.handle_batch(msgs)

    async def _fetch(self) -> list[Msg]:
        """Wait for one message, then take whatever else is already there.

        A plain `fetch(batch)` on an idle consumer long-polls until the batch is
        full or the timeout passes, holding a lone message for up to a second
        per hop; waiting for one and then sweeping keeps latency low at any rate
        and batches under load. The sweep is skipped when JetStream said
        nothing more was pending as it delivered the first: a sweep of an empty
        stream lingers at the server until it expires, 5 ms added to every hop
        at low rates. When more was pending it lingers those 5 ms on purpose,
        so a busy stream's batch fills up.
        """
        msgs: list[Msg] = await self._sub.fetch(1, timeout=self._fetch_timeout)
        if self._batch > 1 and _pending_after(msgs[-1]) > 0:
            with contextlib.suppress(NatsTimeoutError, TimeoutError):
                msgs += await self._sub.fetch(self._batch - 1, timeout=0.005)
        return msgs

    def stop(self) -> None:
        """Stop fetching; the batch in hand is finished first."""
        self._stopping.set()

    async def handle_batch(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, IncomingEvent]] = []
        for msg in msgs:
            try:
                decoded.append((msg, unwrap(msg.subject, msg.headers, msg.data)))
            except PermanentError as exc:
                await self._dead_letter(msg, str(exc))
        if not decoded:
            return
        CONSUMER_BATCH_MESSAGES.labels(self.consumer).observe(len(decoded))
        if len(decoded) > 1:
            try:
                async with self._uow_factory() as uow:
                    handled = await uow.seen_many(self.consumer, [e.id for _, e in decoded])
                    if self._prepare is not None:
                        await self._prepare([e for _, e in decoded if e.id not in handled], uow)
                    for msg, event in decoded:
                        await self._apply(uow, msg, event, handled)
                        # SQLite statements run inline (svckit.sqlite_inline), so
                        # nothing in a batch yields: let the relay, gRPC calls and
                        # acks run between messages, not after 128 of them.
                        await asyncio.sleep(0)
                    await uow.commit()
            except Exception as exc:
                log.info(
                    "batch failed; retrying one by one", consumer=self.consumer, error=repr(exc)
                )
            else:
                await self._ack_all([m for m, _ in decoded])
                self.handled += len(decoded)
                self._count_ok([m for m, _ in decoded])
                return
        for msg, event in decoded:
            await self._handle_one(msg, event)

    async def _apply(self, uow: U, msg: Msg, event: IncomingEvent, handled: set[str]) -> None:
        """Run the handler for one message inside the given transaction, in its trace.

        `handled` holds the ids already in the inbox, read for the whole batch in
        one query (a per-message look-up would also flush the session each time);
        this message's id is added to it.
        """
        with tracer.start_as_current_span(
            f"{msg.subject} process",
            context=extract_context(event.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": msg.subject,
                "messaging.message.id": event.id,
                "messaging.consumer.group.name": self.consumer,
                "cityops.case_id": event.case_id,
                "cloudevents.event_type": event.type,
            },
        ) as span:
            if event.id in handled:
                span.set_attribute("cityops.duplicate", True)
                EVENTS_CONSUMED.labels(self.consumer, msg.subject, "duplicate").inc()
                return
            started = time.perf_counter()
            try:
                await self._handler(event, uow)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            HANDLER_SECONDS.labels(self.consumer, msg.subject).observe(
                time.perf_counter() - started
            )
            uow.remember(self.consumer, event.id)
            handled.add(event.id)

    async def _handle_one(self, msg: Msg, event: IncomingEvent) -> None:
        try:
            async with self._uow_factory() as uow:
                await self._apply(uow, msg, event, await uow.seen_many(self.consumer, [event.id]))
                await uow.commit()
        except PermanentError as exc:
            await self._dead_letter(msg, str(exc))
            return
        except Exception as exc:
            deliveries = _deliveries(msg)
            if deliveries >= self._max_attempts:
                await self._dead_letter(msg, f"gave up after {deliveries} deliveries: {exc!r}")
                return
            delay = min(0.2 * 2 ** (deliveries - 1), 30.0)
            log.warning(
                "handler failed; redelivering",
                consumer=self.consumer,
                case_id=event.case_id,
                error=repr(exc),
                deliveries=deliveries,
                delay=delay,
            )
            EVENTS_CONSUMED.labels(self.consumer, msg.subject, "retry").inc()
            await msg.nak(delay=delay)
            return
        await self._ack_all([msg])
        self.handled += 1
        self._count_ok([msg])

    def _count_ok(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            EVENTS_CONSUMED.labels(self.consumer, msg.subject, "ok").inc()

    async def sample_lag(self) -> None:
        """Set lag gauges from JetStream's view of this durable consumer."""
        info = await self._sub.consumer_info()
        CONSUMER_PENDING.labels(self.consumer, self._stream).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(self.consumer, self._stream).set(info.num_ack_pending or 0)
        CONSUMER_REDELIVERED.labels(self.consumer, self._stream).set(info.num_redelivered or 0)

    async def _ack_all(self, msgs: list[Msg]) -> None:
        results = await asyncio.gather(*(m.ack_sync() for m in msgs), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                # The inbox makes the redelivery a no-op.
                log.warning("ack failed; message will be redelivered", error=repr(result))

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        meta = _metadata(msg)
        async with self._uow_factory() as uow:
            uow.session.add(
                DeadLetter(
                    consumer=self.consumer,
                    stream=self._stream,
                    subject=msg.subject,
                    message_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                    stream_sequence=meta.get("stream_seq", 0),
                    deliveries=meta.get("deliveries", 1),
                    headers=json.dumps(msg.headers or {}),
                    body=msg.data,
                    reason=reason,
                    failed_at=utcnow(),
                )
            )
            await uow.commit()
        self.dead_lettered += 1
        DEAD_LETTERS.labels(self.consumer, msg.subject).inc()
        EVENTS_CONSUMED.labels(self.consumer, msg.subject, "dead_letter").inc()
        log.error(
            "dead-lettered message", consumer=self.consumer, subject=msg.subject, reason=reason
        )
        await msg.term()


def _metadata(msg: Msg) -> dict[str, Any]:
    try:
        meta = msg.metadata
    except Exception:
        return {}
    return {"stream_seq": meta.sequence.stream, "deliveries": meta.num_delivered}


def _pending_after(msg: Msg) -> int:
    """How many messages the consumer still had to deliver when this one was
    sent (from its ack subject); unknown counts as some."""
    try:
        return int(msg.metadata.num_pending or 0)
    except Exception:
        return 1


def _deliveries(msg: Msg) -> int:
    return int(_metadata(msg).get("deliveries", 1))
