"""A poison message is dead-lettered with its reason; after the fix an
operator replays it and it is handled once, by the consumer that failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import Field, SQLModel, select

from cityops.intake.v1 import case_pb2, events_pb2
from svckit import db, deadletters
from svckit.errors import PermanentError
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.testing.polling import eventually
from svckit.uow import SqlUnitOfWork


class ReplayApplied(SQLModel, table=True):
    __tablename__ = "test_replay_applied"
    event_id: str = Field(primary_key=True)
    case_id: str


async def test_dead_letter_is_listed_and_replayed_once(
    tmp_path: Path, nats_server: NatsServer, database_url: str, capsys: object
) -> None:
    producer = ServiceRuntime(
        "intake", ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path), SqlUnitOfWork
    )
    await producer.start_infrastructure()
    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path, database_url=database_url),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)
    fixed = False

    async def handle(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        if event.case_id == "C-bad" and not fixed:
            raise PermanentError("category E9999 is not in the catalogue")
        uow.session.add(ReplayApplied(event_id=event.id, case_id=event.case_id))

    worker = await consumer.subscribe("intake", handle, batch=1)
    async with producer.uow() as uow:
        for case_id in ("C-bad", "C-good"):
            uow.publish(
                events_pb2.CaseFiled(case=case_pb2.Case(case_id=case_id)),
                subject=CASE_FILED,
                case_id=case_id,
            )
        await uow.commit()
    await producer.relay.publish_pending()
    task = asyncio.create_task(worker.run())
    await eventually(lambda: worker.dead_lettered == 1 and worker.handled == 1)

    letters = await deadletters.list_dead_letters(consumer.engine)
    assert [(d.subject, d.reason) for d in letters] == [
        (CASE_FILED, "category E9999 is not in the catalogue")
    ]

    fixed = True
    assert await deadletters.replay(consumer.engine, producer.js) == 1
    await eventually(lambda: worker.handled == 2)
    async with db.session_factory(consumer.engine)() as session:
        applied = sorted(r.case_id for r in (await session.exec(select(ReplayApplied))).all())
    assert applied == ["C-bad", "C-good"]
    assert await deadletters.list_dead_letters(consumer.engine) == []
    worker.stop()
    await task
    for runtime in (producer, consumer):
        await runtime.nc.close()
        await runtime.engine.dispose()
