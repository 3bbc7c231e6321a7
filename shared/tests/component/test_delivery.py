"""Outbox, inbox, pull worker and dead letters against a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry import trace
from sqlmodel import Field, SQLModel, col, select

from cityops.intake.v1 import case_pb2, events_pb2
from svckit import db
from svckit.errors import PermanentError
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, stream_for
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.tables import DeadLetter, OutboxMessage
from svckit.testing.polling import eventually as wait_for
from svckit.uow import SqlUnitOfWork


class AppliedEvent(SQLModel, table=True):
    """What the test consumer does: one row per effect."""

    __tablename__ = "test_applied"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str


def filed(case_id: str) -> events_pb2.CaseFiled:
    return events_pb2.CaseFiled(case=case_pb2.Case(case_id=case_id, category_code="E0105"))


@pytest.fixture
async def producer(
    tmp_path: Path, nats_server: NatsServer
) -> AsyncIterator[ServiceRuntime[SqlUnitOfWork]]:
    settings = ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path)
    runtime = ServiceRuntime("intake", settings, SqlUnitOfWork)
    await runtime.start_infrastructure()
    yield runtime
    await runtime.nc.close()
    await runtime.engine.dispose()


async def rows(engine: db.AsyncEngine, model: type[SQLModel]) -> list[SQLModel]:
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(model))).all())


async def test_events_written_while_nats_is_down_are_published_after_it_returns(
    producer: ServiceRuntime[SqlUnitOfWork], nats_server: NatsServer
) -> None:
    relay_task = asyncio.create_task(producer.relay.run())
    nats_server.stop()
    async with producer.uow() as uow:
        for i in range(5):
            uow.publish(filed(f"C-{i}"), subject=CASE_FILED, case_id=f"C-{i}")
        await uow.commit()
    await asyncio.sleep(1.0)
    assert await producer.relay.pending_count() == 5
    nats_server.start()

    async def drained() -> bool:
        return await producer.relay.pending_count() == 0

    await wait_for(drained, timeout=30)
    info = await producer.js.stream_info(stream_for("intake").name)
    assert info.state.messages == 5
    await producer.relay.stop()
    relay_task.cancel()


async def test_duplicate_delivery_has_one_effect_and_undecodable_is_dead_lettered(
    tmp_path: Path,
    nats_server: NatsServer,
    producer: ServiceRuntime[SqlUnitOfWork],
    database_url: str,
) -> None:
    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path, database_url=database_url),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)

    async def apply(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        uow.session.add(AppliedEvent(case_id=event.case_id))

    worker = await consumer.subscribe("intake", apply)
    async with producer.uow() as uow:
        message_id = uow.publish(filed("C-1"), subject=CASE_FILED, case_id="C-1")
        await uow.commit()
    await producer.relay.publish_pending()
    # The same event again, past JetStream's duplicate window (new Nats-Msg-Id), same ce-id:
    row = (await rows(producer.engine, OutboxMessage))[0]
    assert isinstance(row, OutboxMessage)
    import json

    headers = json.loads(row.headers)
    headers["Nats-Msg-Id"] = "republished"
    await producer.js.publish(CASE_FILED, row.body, headers=headers)
    # A poison message in between, and a good one behind it.
    await producer.js.publish(CASE_FILED, b"\xff\xfe not protobuf", headers={"Nats-Msg-Id": "bad"})
    async with producer.uow() as uow:
        uow.publish(filed("C-2"), subject=CASE_FILED, case_id="C-2")
        await uow.commit()
    await producer.relay.publish_pending()

    task = asyncio.create_task(worker.run())
    await wait_for(lambda: worker.handled + worker.dead_lettered >= 4)
    worker.stop()
    await task
    applied = await rows(consumer.engine, AppliedEvent)
    assert sorted(a.case_id for a in applied) == ["C-1", "C-2"]  # type: ignore[attr-defined]
    dead = await rows(consumer.engine, DeadLetter)
    assert len(dead) == 1 and "missing CloudEvents headers" in dead[0].reason  # type: ignore[attr-defined]
    assert message_id
    await consumer.nc.close()
    await consumer.engine.dispose()


async def test_transient_error_is_redelivered_and_permanent_error_dead_letters(
    tmp_path: Path,
    nats_server: NatsServer,
    producer: ServiceRuntime[SqlUnitOfWork],
    database_url: str,
) -> None:
    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path, database_url=database_url),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)
    attempts: dict[str, int] = {}

    async def flaky(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        attempts[event.case_id] = attempts.get(event.case_id, 0) + 1
        if event.case_id == "C-flaky" and attempts[event.case_id] < 3:
            raise ConnectionError("peer briefly down")
        if event.case_id == "C-invalid":
            raise PermanentError("category unknown to this consumer")
        uow.session.add(AppliedEvent(case_id=event.case_id))

    worker = await consumer.subscribe("intake", flaky, batch=1)
    async with producer.uow() as uow:
        for case_id in ("C-flaky", "C-invalid", "C-ok"):
            uow.publish(filed(case_id), subject=CASE_FILED, case_id=case_id)
        await uow.commit()
    await producer.relay.publish_pending()
    task = asyncio.create_task(worker.run())

    async def done() -> bool:
        return len(await rows(consumer.engine, AppliedEvent)) == 2 and worker.dead_lettered == 1

    await wait_for(done)
    worker.stop()
    await task
    assert attempts["C-flaky"] == 3
    applied = sorted(a.case_id for a in await rows(consumer.engine, AppliedEvent))  # type: ignore[attr-defined]
    assert applied == ["C-flaky", "C-ok"]
    await consumer.nc.close()
    await consumer.engine.dispose()


async def test_trace_context_survives_the_outbox(
    tmp_path: Path,
    nats_server: NatsServer,
    producer: ServiceRuntime[SqlUnitOfWork],
    spans: object,
    database_url: str,
) -> None:
    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path, database_url=database_url),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)
    seen: list[str] = []

    async def record(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        ctx = trace.get_current_span().get_span_context()
        seen.append(format(ctx.trace_id, "032x"))

    worker = await consumer.subscribe("intake", record)
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("ingest") as root:
        origin = format(root.get_span_context().trace_id, "032x")
        async with producer.uow() as uow:
            uow.publish(filed("C-9"), subject=CASE_FILED, case_id="C-9")
            await uow.commit()
    # The relay runs later, outside any span: the stored context must carry the trace.
    await producer.relay.publish_pending()
    task = asyncio.create_task(worker.run())
    await wait_for(lambda: seen)
    worker.stop()
    await task
    assert seen == [origin]
    published = await rows(producer.engine, OutboxMessage)
    assert all(col(OutboxMessage.published_at) is not None for _ in published)
    await consumer.nc.close()
    await consumer.engine.dispose()


async def test_prepare_sees_a_batch_once_inside_its_transaction(
    tmp_path: Path, nats_server: NatsServer, producer: ServiceRuntime[SqlUnitOfWork]
) -> None:
    """`prepare` gets the batch's not-yet-applied events before the handlers,
    on the batch's own unit of work, so what it reads the handlers can use."""
    consumer = ServiceRuntime(
        "dispatch", ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path), SqlUnitOfWork
    )
    await consumer.start_infrastructure(producer=False)
    batches: list[list[str]] = []
    prepared_on: list[SqlUnitOfWork] = []

    async def prepare(events: list[IncomingEvent], uow: SqlUnitOfWork) -> None:
        batches.append([e.case_id for e in events])
        prepared_on.append(uow)

    async def apply(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        assert uow is prepared_on[-1], "the handler runs in the prepared transaction"
        uow.session.add(AppliedEvent(case_id=event.case_id))

    worker = await consumer.subscribe("intake", apply, prepare=prepare)
    async with producer.uow() as uow:
        for i in range(5):
            uow.publish(filed(f"C-{i}"), subject=CASE_FILED, case_id=f"C-{i}")
        await uow.commit()
    await producer.relay.publish_pending()
    msgs = await worker._fetch()
    while len(msgs) < 5:
        msgs += await worker._fetch()
    await worker.handle_batch(msgs)
    # Delivered again (a redelivery after a lost ack): nothing left to prepare.
    await worker.handle_batch(msgs)
    assert batches == [[f"C-{i}" for i in range(5)], []]
    applied = await rows(consumer.engine, AppliedEvent)
    assert sorted(a.case_id for a in applied) == [f"C-{i}" for i in range(5)]  # type: ignore[attr-defined]
    await consumer.nc.close()
    await consumer.engine.dispose()
