"""A 3-node JetStream cluster with R3 streams: killing one node under load
loses nothing, applies nothing twice, and the services carry on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import Field, SQLModel, select

from cityops.intake.v1 import case_pb2, events_pb2
from svckit import db
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, stream_for
from svckit.natsserver import NatsCluster
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.testing.polling import eventually
from svckit.uow import SqlUnitOfWork

EVENTS = 300


class ClusterApplied(SQLModel, table=True):
    __tablename__ = "test_cluster_applied"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str


async def test_killing_one_node_under_load_loses_nothing(
    tmp_path: Path, nats_cluster: NatsCluster
) -> None:
    def settings(name: str) -> ServiceSettings:
        return ServiceSettings(
            nats_url=nats_cluster.url, data_dir=tmp_path / name, stream_replicas=3
        )

    producer = ServiceRuntime("intake", settings("producer"), SqlUnitOfWork)
    consumer = ServiceRuntime("dispatch", settings("consumer"), SqlUnitOfWork)

    async def declared() -> bool:
        try:
            await producer.start_infrastructure()
            return True
        except Exception:
            return False  # the cluster is still electing its meta leader

    await eventually(declared, timeout=60, every=0.5)
    await consumer.start_infrastructure(producer=False)
    info = await producer.js.stream_info(stream_for("intake").name)
    assert info.config.num_replicas == 3

    async def apply(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        uow.session.add(ClusterApplied(case_id=event.case_id))

    async def subscribed() -> bool:
        try:
            await consumer.subscribe("intake", apply)
            return True
        except Exception:
            return False  # an R3 consumer may take longer than one API timeout to place

    await eventually(subscribed, timeout=60, every=0.5)
    producer_task = asyncio.create_task(producer.run())
    consumer_task = asyncio.create_task(consumer.run())

    async def write(start: int, end: int) -> None:
        for i in range(start, end):
            async with producer.uow() as uow:
                uow.publish(
                    events_pb2.CaseFiled(case=case_pb2.Case(case_id=f"C-{i}")),
                    subject=CASE_FILED,
                    case_id=f"C-{i}",
                )
                await uow.commit()
            await asyncio.sleep(0.002)

    await write(0, EVENTS // 2)
    nats_cluster.nodes[0].kill()
    await write(EVENTS // 2, EVENTS)

    async def applied() -> list[str] | None:
        async with db.session_factory(consumer.engine)() as session:
            rows = [r.case_id for r in (await session.exec(select(ClusterApplied))).all()]
        return rows if len(rows) >= EVENTS else None

    rows = await eventually(applied, timeout=90, every=0.5)
    await asyncio.sleep(1)  # anything applied twice would show up by now
    async with db.session_factory(consumer.engine)() as session:
        rows = [r.case_id for r in (await session.exec(select(ClusterApplied))).all()]
    assert sorted(rows) == sorted(f"C-{i}" for i in range(EVENTS))
    assert await producer.relay.pending_count() == 0
    for runtime, task in ((consumer, consumer_task), (producer, producer_task)):
        runtime.request_stop()
        await asyncio.wait_for(task, 30)
