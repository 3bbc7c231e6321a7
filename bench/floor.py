"""The floor under the pipeline, measured on this machine, and one svckit hop.

    uv run python bench/floor.py --messages 20000

1. raw JetStream: publish_async in windows, then pull-fetch and ack, N messages;
2. raw SQLite (sqlite3, WAL, synchronous=NORMAL): N one-row commits, and N rows
   committed in batches of 128;
3. one svckit hop: outbox rows → relay → JetStream → pull worker → a handler
   that writes a row and an outbox row (inbox row included) → commit → ack.

Prints figures; asserts nothing. Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from sqlmodel import Field, SQLModel

from cityops.intake.v1 import case_pb2, events_pb2
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, subject
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.uow import SqlUnitOfWork


class HopRow(SQLModel, table=True):
    __tablename__ = "bench_hop"
    # A client-side key, as the services use: autoincrement keys make the ORM
    # insert row by row to read each key back.
    event_id: str = Field(primary_key=True)
    case_id: str


PROFILE = bool(os.environ.get("CITYOPS_BENCH_PROFILE"))


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.0f}/s  ({seconds:6.2f} s for {count})"


async def raw_jetstream(url: str, count: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="FLOOR", subjects=["floor.>"])
    body = b"x" * 200
    start = time.perf_counter()
    for i in range(0, count, 256):
        futures = [await js.publish_async("floor.test", body) for _ in range(min(256, count - i))]
        await asyncio.gather(*futures)
    print(f"JetStream publish_async (windows of 256)  {rate(count, time.perf_counter() - start)}")
    sub = await js.pull_subscribe(
        "floor.test", durable="floor", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    )
    start = time.perf_counter()
    seen = 0
    while seen < count:
        msgs = await sub.fetch(256, timeout=2)
        await asyncio.gather(*(m.ack_sync() for m in msgs))
        seen += len(msgs)
    print(f"JetStream fetch(256) + ack_sync           {rate(count, time.perf_counter() - start)}")
    await nc.close()


def raw_sqlite(path: Path, count: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    start = time.perf_counter()
    for i in range(count):
        db.execute("BEGIN")
        db.execute("INSERT INTO t (v) VALUES (?)", (f"row-{i}",))
        db.execute("COMMIT")
    print(f"SQLite one row per commit                 {rate(count, time.perf_counter() - start)}")
    start = time.perf_counter()
    for i in range(0, count, 128):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO t (v) VALUES (?)", [(f"b-{j}",) for j in range(i, min(count, i + 128))]
        )
        db.execute("COMMIT")
    print(f"SQLite 128 rows per commit                {rate(count, time.perf_counter() - start)}")
    db.close()


async def svckit_hop(url: str, root: Path, count: int) -> None:
    producer = ServiceRuntime(
        "intake", ServiceSettings(nats_url=url, data_dir=root / "p"), SqlUnitOfWork
    )
    await producer.start_infrastructure()
    consumer = ServiceRuntime(
        "dispatch", ServiceSettings(nats_url=url, data_dir=root / "c"), SqlUnitOfWork
    )
    await consumer.start_infrastructure()
    onward = subject("dispatch", "case", "dispatched")

    async def handle(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        uow.session.add(HopRow(event_id=event.id, case_id=event.case_id))
        uow.publish(event.message, subject=onward, case_id=event.case_id)

    worker = await consumer.subscribe("intake", handle)
    async with producer.uow() as uow:
        for i in range(count):
            uow.publish(
                events_pb2.CaseFiled(case=case_pb2.Case(case_id=f"C-{i}")),
                subject=CASE_FILED,
                case_id=f"C-{i}",
            )
        await uow.commit()
    start = time.perf_counter()
    while await producer.relay.publish_pending():
        pass
    print(f"svckit outbox relay publish               {rate(count, time.perf_counter() - start)}")
    relay = asyncio.create_task(consumer.relay.run())
    task = asyncio.create_task(worker.run())
    profiler = cProfile.Profile() if PROFILE else None
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    while worker.handled < count:
        await asyncio.sleep(0.01)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"svckit hop (pull, tx + inbox + outbox, ack) {rate(count, time.perf_counter() - start)}")
    while await consumer.relay.pending_count():
        await asyncio.sleep(0.05)
    print(f"  … and its outbox relayed onward         {rate(count, time.perf_counter() - start)}")
    worker.stop()
    await task
    await consumer.relay.stop()
    relay.cancel()
    for runtime in (producer, consumer):
        await runtime.nc.close()
        await runtime.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-floor-") as tmp:
        root = Path(tmp)
        server = NatsServer(root / "nats")
        server.start()
        try:
            asyncio.run(raw_jetstream(server.url, args.messages))
            raw_sqlite(root / "raw.db", args.messages)
            asyncio.run(svckit_hop(server.url, root, args.messages))
        finally:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
