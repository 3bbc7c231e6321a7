"""Transactional outbox relay: publishes what committed, never drops, retries.

Rows are written by the unit of work in the same transaction as the change
(`UnitOfWork.publish`). The relay sends unsent rows in order with
`Nats-Msg-Id` = row id (JetStream de-duplicates a resend after a crash), in
bounded windows of `publish_async`, restoring the trace context stored with
each row so the publish span joins the trace that wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Row, bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from svckit import db, sqlite_prepared
from svckit.clock import utcnow
from svckit.logging import get_logger
from svckit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from svckit.tables import OutboxMessage
from svckit.telemetry import extract_context

log = get_logger(__name__)

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
# The relay's two statements, once per published window each: built once.
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.position.in_(bindparam("positions", expanding=True)))
    .values(published_at=bindparam("published_at", type_=_OUTBOX.c.published_at.type))
)
_UNSENT = (
    sa_select(
        _OUTBOX.c.position,
        _OUTBOX.c.subject,
        _OUTBOX.c.message_id,
        _OUTBOX.c.case_id,
        _OUTBOX.c.body,
        _OUTBOX.c.headers,
    )
    .where(_OUTBOX.c.published_at.is_(None))
    .order_by(_OUTBOX.c.position)
    .limit(bindparam("window"))
)
tracer = trace.get_tracer("svckit.outbox")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        *,
        window: int = 256,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self._engine = engine
        self._sync = db.sync_twin(engine)
        self._sessions = db.session_factory(engine)
        self._js = js
        self._window = window
        self._poll = poll_seconds
        self._timeout = publish_timeout
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            # Cleared before the read: a commit notified from here on is either
            # in this read or wakes the wait below at once.
            self._wake.clear()
            try:
                sent = await self.publish_pending()
                backoff = 0.1
            except Exception as exc:  # keep relaying whatever fails; rows stay unsent
                log.warning("outbox relay failed; will retry", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self._window:
                # Less than a window: nothing more was pending at the read, so
                # wait for the next commit instead of reading again (that empty
                # read was a statement per event when events come one by one).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def stop(self) -> None:
        """Flush what is pending (best effort), then let run() return."""
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(self.publish_pending(), timeout=self._timeout)
        except Exception as exc:
            log.warning("outbox flush on stop incomplete", error=repr(exc))

    async def sample_backlog(self) -> None:
        """Set the backlog gauges: how many rows wait and how old the oldest is."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    col(OutboxMessage.published_at).is_(None)
                )
            )
            count, oldest = rows.one()
        OUTBOX_BACKLOG.set(count)
        if oldest is None:
            OUTBOX_OLDEST_AGE.set(0)
        else:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            OUTBOX_OLDEST_AGE.set((utcnow() - oldest).total_seconds())

    async def pending_count(self) -> int:
        async with self._sessions() as session:
            rows = await session.exec(
                select(OutboxMessage.position).where(col(OutboxMessage.published_at).is_(None))
            )
            return len(rows.all())

    async def publish_pending(self) -> int:
        """Publish one window of unsent rows; returns how many were sent."""
        rows = await self._unsent()
        if not rows:
            return 0
        futures = []
        for _, subject, message_id, case_id, body, stored_headers in rows:
            headers: dict[str, str] = json.loads(stored_headers)
            with tracer.start_as_current_span(
                f"{subject} publish",
                context=extract_context(headers),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": subject,
                    "messaging.message.id": message_id,
                    "cityops.case_id": case_id,
                },
            ):
                # No wait_stall: a window stays far below the client's limit of
                # pending publishes (4,000), and a stall timeout costs a task per
                # message (asyncio.wait_for) even when nothing stalls.
                futures.append(await self._js.publish_async(subject, body, headers=headers))
        done = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), self._timeout
        )
        sent_positions: list[int] = []
        for (position, subject, *_), outcome in zip(rows, done, strict=True):
            if isinstance(outcome, BaseException):
                break  # keep order: stop at the first failure and retry from there
            assert position is not None  # the primary key, set by the insert
            sent_positions.append(position)
            EVENTS_PUBLISHED.labels(subject).inc()
        if sent_positions:
            await self._mark_sent(sent_positions)
            self.published += len(sent_positions)
        failures = [o for o in done if isinstance(o, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} publishes failed: {failures[0]!r}")
        return len(sent_positions)

    async def _unsent(self) -> Sequence[Row[Any, Any, Any, Any, Any, Any]]:
        """The next window of unsent rows: columns, not ORM objects, and no
        session (the relay reads them once); on SQLite through the file's
        sync engine, since below saturation this runs once per event."""
        params = {"window": self._window}
        if self._sync is not None:
            # In a transaction (a no-op on SQLite), where statements run prepared.
            with self._sync.connect() as sync_connection, sync_connection.begin():
                return sqlite_prepared.run(sync_connection, _UNSENT, params).all()  # type: ignore[no-any-return]
        async with self._engine.connect() as connection:
            return (await connection.execute(_UNSENT, params)).all()

    async def _mark_sent(self, positions: list[int]) -> None:
        params = {"positions": positions, "published_at": utcnow()}
        async with db.write_lock(self._engine):
            if self._sync is not None:
                with self._sync.begin() as connection:
                    sqlite_prepared.run(connection, _MARK_SENT, params)
                return
            async with self._engine.begin() as connection:
                await connection.execute(_MARK_SENT, params)
