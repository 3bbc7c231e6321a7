"""svckit.uow on a real SQLite file: outbox rows only for what commits, with the
trace that wrote them; the inbox remembers what was handled."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from svckit import db
from svckit.messaging.envelope import unwrap
from svckit.messaging.subjects import CASE_FILED
from svckit.tables import InboxMessage, OutboxMessage
from svckit.uow import SqlUnitOfWork


def filed(case_id: str) -> intake_events.CaseFiled:
    return intake_events.CaseFiled(case=case_pb2.Case(case_id=case_id, category_code="E0105"))


async def outbox(engine: AsyncEngine) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(OutboxMessage))).all())


class Commits:
    """The on_commit callback: counts the relay notifications."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_a_committed_publish_writes_one_outbox_row(sqlite_engine: AsyncEngine) -> None:
    commits = Commits()
    async with SqlUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        message_id = uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
        assert await outbox(sqlite_engine) == []  # not before the commit
        await uow.commit()
    assert commits.count == 1

    (row,) = await outbox(sqlite_engine)
    assert (row.message_id, row.subject, row.case_id) == (message_id, CASE_FILED, "C-1")
    assert row.event_type == "cityops.intake.v1.CaseFiled"
    assert row.body == filed("C-1").SerializeToString()
    assert row.published_at is None and row.attempts == 0 and row.position == 1
    assert row.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - row.created_at).total_seconds()) < 60
    headers = json.loads(row.headers)
    assert headers["ce-id"] == headers["Nats-Msg-Id"] == message_id
    assert (headers["ce-source"], headers["ce-subject"]) == ("/cityops/intake", "C-1")
    # What the relay will send is a valid envelope for a consumer:
    event = unwrap(row.subject, headers, row.body)
    assert event.message == filed("C-1") and event.time == row.created_at


@pytest.mark.parametrize("ending", ["rollback", "no commit", "exception"])
async def test_without_a_commit_there_is_no_outbox_row(
    sqlite_engine: AsyncEngine, ending: str
) -> None:
    commits = Commits()
    failing = pytest.raises(RuntimeError, match="handler failed")
    with failing if ending == "exception" else contextlib.nullcontext():
        async with SqlUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
            uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
            if ending == "rollback":
                await uow.rollback()
                await uow.commit()  # commits nothing, notifies nothing
            elif ending == "exception":
                raise RuntimeError("handler failed")
    assert await outbox(sqlite_engine) == []
    assert commits.count == 0


async def test_a_commit_without_publish_does_not_wake_the_relay(
    sqlite_engine: AsyncEngine,
) -> None:
    commits = Commits()
    async with SqlUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        uow.remember("intake-detection", "evt-1")
        await uow.commit()
    assert commits.count == 0


async def test_the_row_carries_the_trace_it_was_written_in(
    sqlite_engine: AsyncEngine, spans: InMemorySpanExporter
) -> None:
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        with trace.get_tracer("test").start_as_current_span("file case") as span:
            uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
            ctx = span.get_span_context()
        uow.publish(filed("C-2"), subject=CASE_FILED, case_id="C-2")  # outside any span
        await uow.commit()
    in_span, outside = (json.loads(r.headers) for r in await outbox(sqlite_engine))
    _, trace_id, span_id, _ = in_span["traceparent"].split("-")
    assert (trace_id, span_id) == (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    assert "traceparent" not in outside


async def test_seen_finds_only_what_was_remembered_and_committed(
    sqlite_engine: AsyncEngine,
) -> None:
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        assert await uow.seen("grpc:CreateCase", "req-1") is None
        uow.remember("grpc:CreateCase", "req-1", b"serialized response")
        uow.remember("intake-detection", "evt-1")
        await uow.commit()
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        uow.remember("intake-detection", "evt-2")  # never committed
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        prior = await uow.seen("grpc:CreateCase", "req-1")
        assert prior is not None and prior.result == b"serialized response"
        assert prior.received_at.tzinfo is not None
        event = await uow.seen("intake-detection", "evt-1")
        assert event is not None and event.result is None
        assert await uow.seen("intake-detection", "evt-2") is None
        assert await uow.seen("dispatch-intake", "evt-1") is None  # per consumer


async def test_seen_finds_what_this_transaction_remembered_before_its_commit(
    sqlite_engine: AsyncEngine,
) -> None:
    # A batch holding the same request twice must answer the second from the
    # first, though inbox rows reach the database only at commit.
    async with SqlUnitOfWork(sqlite_engine, "detection") as uow:
        uow.remember("cancel", "key-1", b"first answer")
        assert await inbox_ids(sqlite_engine) == []
        prior = await uow.seen("cancel", "key-1")
        assert prior is not None and prior.result == b"first answer"
        assert await uow.seen("cancel", "key-2") is None
        assert await uow.seen("other-consumer", "key-1") is None
        await uow.commit()
    assert await inbox_ids(sqlite_engine) == ["key-1"]


async def test_remembering_the_same_message_twice_cannot_commit(
    sqlite_engine: AsyncEngine,
) -> None:
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        uow.remember("intake-detection", "evt-1")
        await uow.commit()
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        uow.remember("intake-detection", "evt-1")
        uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
        with pytest.raises(IntegrityError):
            await uow.commit()
    assert await outbox(sqlite_engine) == []
    async with db.session_factory(sqlite_engine)() as session:
        assert len((await session.exec(select(InboxMessage))).all()) == 1


async def test_units_of_work_on_one_engine_run_one_at_a_time(
    sqlite_engine: AsyncEngine,
) -> None:
    steps: list[str] = []

    async def work(case_id: str) -> None:
        async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
            steps.append(f"{case_id} open")
            uow.publish(filed(case_id), subject=CASE_FILED, case_id=case_id)
            await asyncio.sleep(0.02)
            await uow.commit()
            steps.append(f"{case_id} done")

    await asyncio.gather(work("C-1"), work("C-2"))
    assert steps == ["C-1 open", "C-1 done", "C-2 open", "C-2 done"]
    assert [r.case_id for r in await outbox(sqlite_engine)] == ["C-1", "C-2"]


async def inbox_ids(engine: AsyncEngine) -> list[str]:
    async with db.session_factory(engine)() as session:
        return [r.message_id for r in (await session.exec(select(InboxMessage))).all()]


async def test_a_failed_savepoint_drops_its_writes_and_events_and_the_rest_commits(
    sqlite_engine: AsyncEngine,
) -> None:
    commits = Commits()
    async with SqlUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        for case_id, fails in (("C-1", False), ("C-2", True), ("C-3", False)):
            with contextlib.suppress(RuntimeError):
                async with uow.savepoint():
                    uow.remember("intake-detection", f"evt-{case_id}")
                    uow.publish(filed(case_id), subject=CASE_FILED, case_id=case_id)
                    await uow.session.flush()
                    if fails:
                        raise RuntimeError("this item is refused")
        await uow.commit()
    assert commits.count == 1
    assert [r.case_id for r in await outbox(sqlite_engine)] == ["C-1", "C-3"]
    assert sorted(await inbox_ids(sqlite_engine)) == ["evt-C-1", "evt-C-3"]


async def test_only_failed_savepoints_write_nothing_and_do_not_wake_the_relay(
    sqlite_engine: AsyncEngine,
) -> None:
    commits = Commits()
    async with SqlUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
                raise RuntimeError("refused")
        await uow.commit()
    assert commits.count == 0
    assert await outbox(sqlite_engine) == []


class MarkedUnitOfWork(SqlUnitOfWork):
    """Buffers names in memory, as a repository that writes at commit does."""

    def _open(self) -> None:
        self.queued: list[str] = []

    def _buffer_mark(self) -> object:
        return len(self.queued)

    def _forget_buffered_since(self, mark: object) -> None:
        assert isinstance(mark, int)
        del self.queued[mark:]


async def test_a_failed_buffered_savepoint_forgets_only_what_it_buffered(
    sqlite_engine: AsyncEngine,
) -> None:
    commits = Commits()
    async with MarkedUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        for case_id, fails in (("C-1", False), ("C-2", True), ("C-3", False)):
            with contextlib.suppress(RuntimeError), uow.buffered_savepoint():
                uow.queued.append(case_id)
                uow.remember("intake-detection", f"evt-{case_id}")
                uow.publish(filed(case_id), subject=CASE_FILED, case_id=case_id)
                if fails:
                    raise RuntimeError("this item is refused")
        assert uow.queued == ["C-1", "C-3"]
        await uow.commit()
    assert commits.count == 1
    assert [r.case_id for r in await outbox(sqlite_engine)] == ["C-1", "C-3"]
    assert sorted(await inbox_ids(sqlite_engine)) == ["evt-C-1", "evt-C-3"]


async def test_only_failed_buffered_savepoints_do_not_wake_the_relay(
    sqlite_engine: AsyncEngine,
) -> None:
    commits = Commits()
    async with MarkedUnitOfWork(sqlite_engine, "intake", on_commit=commits) as uow:
        with pytest.raises(RuntimeError), uow.buffered_savepoint():
            uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
            raise RuntimeError("refused")
        await uow.commit()
    assert commits.count == 0
    assert await outbox(sqlite_engine) == []


async def test_a_released_savepoint_is_undone_with_its_transaction(
    sqlite_engine: AsyncEngine,
) -> None:
    # Python's sqlite3 opens no transaction for a SELECT or a SAVEPOINT: unless
    # the unit of work begins one, the first RELEASE would commit on its own.
    async with SqlUnitOfWork(sqlite_engine, "intake") as uow:
        assert await uow.seen("intake-detection", "evt-1") is None
        async with uow.savepoint():
            uow.remember("intake-detection", "evt-1")
            uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
        async with uow.savepoint():
            uow.remember("intake-detection", "evt-2")
        assert await inbox_ids(sqlite_engine) == []  # not before the commit
    assert await inbox_ids(sqlite_engine) == []
    assert await outbox(sqlite_engine) == []
