"""Unit of work: one transaction holding the state change, its outbox rows and
its inbox row. Only the unit of work commits.

Services subclass `SqlUnitOfWork` to hang their repositories on it
(`self.cases = CaseRepository(self.session)` in `_open`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Self

from google.protobuf.message import Message
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit import db
from svckit.clock import utcnow
from svckit.messaging import envelope as ce
from svckit.rows import insert_rows
from svckit.tables import InboxMessage, OutboxMessage
from svckit.telemetry import inject_context

_INBOX = InboxMessage.__table__  # type: ignore[attr-defined]
# Asked by every idempotent command: built once, not per call.
_SEEN = sa_select(_INBOX).where(
    _INBOX.c.consumer == bindparam("consumer"), _INBOX.c.message_id == bindparam("message_id")
)

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]

_SEEN_MANY = sa_select(_INBOX.c.message_id).where(
    _INBOX.c.consumer == bindparam("consumer"),
    _INBOX.c.message_id.in_(bindparam("ids", expanding=True)),
)


class SqlUnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine,
        service: str,
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.service = service
        self._sessions = db.session_factory(engine)
        self._on_commit = on_commit
        self._lock = db.write_lock(engine)
        self._wrote_outbox = False
        self._outbox_rows: list[dict[str, object]] = []
        self._inbox_rows: list[dict[str, object]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        await self._lock.__aenter__()
        self.session = self._sessions()
        self._wrote_outbox = False
        self._outbox_rows = []
        self._inbox_rows = []
        self._open()
        return self

    def _open(self) -> None:
        """Subclasses attach repositories to self.session here."""

    async def _write_buffered(self) -> None:
        """Subclasses write the rows their repositories keep in memory (to send
        them with Core statements, not as ORM objects) here: at commit, and
        before a savepoint begins, so the savepoint's rollback undoes exactly
        what was buffered inside it."""

    def _discard_buffered(self) -> None:
        """Subclasses forget rows their repositories still buffer: the
        transaction, or a savepoint, was rolled back."""

    def _buffer_mark(self) -> object:
        """Subclasses that use `buffered_savepoint`: a mark of what their
        repositories buffer now."""
        return None

    def _forget_buffered_since(self, mark: object) -> None:
        """Subclasses that use `buffered_savepoint`: drop what their
        repositories buffered after `mark`."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
            await self.session.close()
        finally:
            await self._lock.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._write_buffered()
        await self.session.flush()  # the handlers' own rows first, as before
        connection = await self.session.connection()
        # One executemany for a batch's inbox rows: as ORM objects each was an
        # instance to build, track and flush, per message, in every service.
        await insert_rows(connection, _INBOX, self._inbox_rows)
        self._inbox_rows = []
        # One executemany for the batch's events: added through the session,
        # each row would be its own INSERT … RETURNING to learn its position.
        await insert_rows(connection, _OUTBOX, self._outbox_rows)
        self._outbox_rows = []
        await self.session.commit()
        if self._wrote_outbox and self._on_commit:
            self._on_commit()
        self._wrote_outbox = False

    async def rollback(self) -> None:
        self._discard_buffered()
        self._outbox_rows = []
        self._inbox_rows = []
        await self.session.rollback()
        self._wrote_outbox = False

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that may fail alone (one item of a batch):
        on an exception its writes, the events it queued and the messages it
        remembered are undone, the exception propagates, and the rest of the
        transaction still commits."""
        await self._begin_for_savepoints()
        await self._write_buffered()
        queued, remembered = len(self._outbox_rows), len(self._inbox_rows)
        wrote = self._wrote_outbox
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            self._discard_buffered()
            del self._outbox_rows[queued:]
            del self._inbox_rows[remembered:]
            self._wrote_outbox = wrote
            raise

    @contextmanager
    def buffered_savepoint(self) -> Iterator[None]:
        """A savepoint for work that only reads and buffers (rows its
        repositories keep for commit, events, inbox rows): on an exception
        what it buffered is forgotten and the exception propagates; no
        SAVEPOINT is sent to the database, which for a batch item that stores
        one row cost more than the row. Work that writes through the session,
        or reads what makes a repository write its buffer, needs `savepoint`."""
        queued, remembered = len(self._outbox_rows), len(self._inbox_rows)
        wrote = self._wrote_outbox
        mark = self._buffer_mark()
        try:
            yield
        except BaseException:
            self._forget_buffered_since(mark)
            del self._outbox_rows[queued:]
            del self._inbox_rows[remembered:]
            self._wrote_outbox = wrote
            raise

    async def _begin_for_savepoints(self) -> None:
        """On SQLite, open the transaction for real before the first SAVEPOINT.

        Python's sqlite3 begins a transaction only at the first INSERT/UPDATE/
        DELETE, so a SAVEPOINT issued before that is the outermost one, and its
        RELEASE commits on its own. IMMEDIATE takes the file's write lock now:
        this process's writers are serialised already (`db.write_lock`), and a
        read snapshot cannot go stale before the first write.
        """
        if not db.is_sqlite(self.engine):
            return
        connection = await self.session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        if driver is not None and not driver.in_transaction:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")

    def publish(self, message: Message, *, subject: str, case_id: str = "") -> str:
        """Queue an integration event; it is sent only if this transaction commits.

        The current trace context is stored with the row, so the relay's
        publish continues this trace however late it runs.
        """
        env = ce.wrap(
            message,
            service=self.service,
            subject=subject,
            case_id=case_id,
            trace_headers=inject_context(),
        )
        self._outbox_rows.append(
            {
                "message_id": env.id,
                "subject": subject,
                "event_type": env.type,
                "case_id": case_id,
                "body": env.body,
                "headers": json.dumps(env.headers()),
                "created_at": env.time,
                "attempts": 0,
                "last_error": "",
            }
        )
        self._wrote_outbox = True
        return env.id

    async def seen(self, consumer: str, message_id: str) -> InboxMessage | None:
        """The inbox row if this message (or request_id) was handled already,
        by this transaction (remembered, written at commit) or a committed one."""
        for row in reversed(self._inbox_rows):
            if row["consumer"] == consumer and row["message_id"] == message_id:
                return InboxMessage.model_validate(row)
        connection = await self.session.connection()
        stored = (
            await connection.execute(_SEEN, {"consumer": consumer, "message_id": message_id})
        ).first()
        return InboxMessage.model_validate(dict(stored._mapping)) if stored else None

    async def seen_many(self, consumer: str, message_ids: list[str]) -> set[str]:
        """Which of these messages were handled already: one query for a batch."""
        connection = await self.session.connection()
        rows = await connection.execute(_SEEN_MANY, {"consumer": consumer, "ids": message_ids})
        return set(rows.scalars())

    def remember(self, consumer: str, message_id: str, result: bytes | None = None) -> None:
        """Record the message as handled, in this transaction (written at commit)."""
        self._inbox_rows.append(
            {
                "consumer": consumer,
                "message_id": message_id,
                "received_at": utcnow(),
                "result": result,
            }
        )
