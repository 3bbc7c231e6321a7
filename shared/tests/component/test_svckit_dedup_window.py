"""The same event republished after JetStream's duplicate window has passed
reaches the stream twice, and still has one effect (the inbox)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from sqlmodel import Field, SQLModel, select

from cityops.intake.v1 import case_pb2, events_pb2
from svckit import db
from svckit.messaging import jetstream
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, stream_for
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.tables import OutboxMessage
from svckit.testing.polling import eventually
from svckit.uow import SqlUnitOfWork


class WindowApplied(SQLModel, table=True):
    __tablename__ = "test_window_applied"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str


async def test_republish_after_duplicate_window_has_one_effect(
    tmp_path: Path, nats_server: NatsServer, database_url: str
) -> None:
    producer = ServiceRuntime(
        "intake", ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path), SqlUnitOfWork
    )
    await producer.start_infrastructure()
    short = dataclasses.replace(stream_for("intake"), duplicate_window_seconds=0.5)
    await jetstream.ensure_stream(producer.js, short)
    async with producer.uow() as uow:
        uow.publish(
            events_pb2.CaseFiled(case=case_pb2.Case(case_id="C-1")),
            subject=CASE_FILED,
            case_id="C-1",
        )
        await uow.commit()
    await producer.relay.publish_pending()
    async with db.session_factory(producer.engine)() as session:
        row = (await session.exec(select(OutboxMessage))).one()
    # Within the window JetStream drops the resend; after it, the resend is stored.
    again = await producer.js.publish(CASE_FILED, row.body, headers=json.loads(row.headers))
    assert again.duplicate
    await asyncio.sleep(1.0)
    late = await producer.js.publish(CASE_FILED, row.body, headers=json.loads(row.headers))
    assert not late.duplicate
    assert (await producer.js.stream_info(short.name)).state.messages == 2

    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path, database_url=database_url),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)

    async def apply(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        uow.session.add(WindowApplied(case_id=event.case_id))

    worker = await consumer.subscribe("intake", apply)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: worker.handled >= 2)
    worker.stop()
    await task
    async with db.session_factory(consumer.engine)() as session:
        assert [r.case_id for r in (await session.exec(select(WindowApplied))).all()] == ["C-1"]
    for runtime in (producer, consumer):
        await runtime.nc.close()
        await runtime.engine.dispose()
