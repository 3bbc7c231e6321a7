"""The floor under the pipeline, measured on this machine, and one svckit hop.

    uv run python bench/floor.py --messages 20000

1. raw JetStream: publish_async in windows, then pull-fetch and ack, N messages,
   on a server that fsyncs every write (as the services' do) and on one that
   leaves syncing to its interval (what the fsync costs);
2. raw SQLite (sqlite3, WAL, synchronous=NORMAL): N one-row commits, and N rows
   committed in batches of 128;
3. one svckit hop: outbox rows → relay → JetStream → pull worker → a handler
   that writes a row and an outbox row (inbox row included) → commit → ack,
   first with a backlog (batches), then one event at a time as below
   saturation (each committed, relayed, handled, relayed onward before the
   next), with this process's CPU per hop.

1 and 2 live in floorlib.py, which the megacity run shares to measure the floor
for its own number of hops.

Prints figures; asserts nothing. Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from floorlib import WINDOW, raw_jetstream, raw_sqlite
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


async def print_raw_jetstream(url: str, count: int, note: str = "") -> None:
    js = await raw_jetstream(url, count)
    print(f"JetStream publish_async (windows of {WINDOW})  {rate(count, js.publish_s)}{note}")
    print(f"JetStream fetch({WINDOW}) + ack_sync           {rate(count, js.consume_s)}{note}")


def print_raw_jetstream_without_fsync(root: Path, count: int) -> None:
    """The same on a server that leaves syncing to its default interval: how
    much of the floor is the fsync of every write the services' servers do."""
    server = NatsServer(root / "nats-nosync", sync_every_write=False)
    server.start()
    try:
        asyncio.run(print_raw_jetstream(server.url, count, "  without fsync per write"))
    finally:
        server.kill()


def print_raw_sqlite(path: Path, count: int) -> None:
    db = raw_sqlite(path, count)
    print(f"SQLite one row per commit                 {rate(count, db.one_row_s)}")
    print(f"SQLite {db.batch} rows per commit                {rate(count, db.batched_s)}")


async def _producer_and_consumer(
    url: str, root: Path
) -> tuple[ServiceRuntime[SqlUnitOfWork], ServiceRuntime[SqlUnitOfWork]]:
    """Two svckit runtimes on their own databases under `root`: one files
    cases, the other consumes them (as intake and dispatch do)."""
    runtimes = []
    for name in ("intake", "dispatch"):
        runtime = ServiceRuntime(
            name, ServiceSettings(nats_url=url, data_dir=root / name), SqlUnitOfWork
        )
        await runtime.start_infrastructure()
        runtimes.append(runtime)
    return runtimes[0], runtimes[1]


async def _close(*runtimes: ServiceRuntime[SqlUnitOfWork]) -> None:
    for runtime in runtimes:
        await runtime.nc.close()
        await runtime.engine.dispose()


_ONWARD = subject("dispatch", "case", "dispatched")


def _file_case(uow: SqlUnitOfWork, i: int) -> None:
    uow.publish(
        events_pb2.CaseFiled(case=case_pb2.Case(case_id=f"C-{i}")),
        subject=CASE_FILED,
        case_id=f"C-{i}",
    )


async def _hop(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
    """The consumer's handler: a row of its own and an event onward, as dispatch does."""
    uow.session.add(HopRow(event_id=event.id, case_id=event.case_id))
    uow.publish(event.message, subject=_ONWARD, case_id=event.case_id)


async def svckit_hop(url: str, root: Path, count: int) -> None:
    producer, consumer = await _producer_and_consumer(url, root / "backlog")
    worker = await consumer.subscribe("intake", _hop)
    async with producer.uow() as uow:
        for i in range(count):
            _file_case(uow, i)
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
    await _close(producer, consumer)


async def svckit_single_hops(url: str, root: Path, count: int) -> None:
    """Hops one event at a time: every transaction, relay read and fetch is
    paid per event, as below saturation, where batches hold one message."""
    producer, consumer = await _producer_and_consumer(url, root / "single")
    handled = asyncio.Event()

    async def handle(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        await _hop(event, uow)
        handled.set()

    worker = await consumer.subscribe("intake", handle)
    tasks = [
        asyncio.create_task(coro)
        for coro in (worker.run(), producer.relay.run(), consumer.relay.run())
    ]

    async def one(i: int) -> None:
        handled.clear()
        async with producer.uow() as uow:
            _file_case(uow, i)
            await uow.commit()
        await handled.wait()

    for i in range(min(200, count)):  # warm up: connections, statement caches
        await one(i)
    cpu, start = time.process_time(), time.perf_counter()
    for i in range(count):
        await one(200 + i)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"svckit hop, one event at a time          {wall / count * 1000:6.2f} ms each, "
        f"{cpu / count * 1000:.2f} ms CPU (commit, relay, handle, relay onward)"
    )
    # Stopped, not cancelled: a relay cancelled mid-publish leaves its acks unread.
    worker.stop()
    await producer.relay.stop()
    await consumer.relay.stop()
    await asyncio.gather(*tasks)
    await _close(producer, consumer)


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
            asyncio.run(print_raw_jetstream(server.url, args.messages))
            print_raw_jetstream_without_fsync(root, args.messages)
            print_raw_sqlite(root / "raw.db", args.messages)
            asyncio.run(svckit_hop(server.url, root, args.messages))
            asyncio.run(svckit_single_hops(server.url, root, min(args.messages, 2000)))
        finally:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
