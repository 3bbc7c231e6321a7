"""The raw floor under the pipeline: what JetStream and SQLite cost on their
own, with none of our code in the way. Functions return timings and print
nothing, so bench/floor.py and the megacity run (which measures the floor for
its own number of hops, on its own nats-server) report the same measurement.

Imported by bench/floor.py (run as a script: `from floorlib import ...`) and by
bench/megacity (run as `python -m bench.megacity`: `from bench.floorlib import ...`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig

BODY = b"x" * 200  # about the size of one of our event envelopes
WINDOW = 256  # publishes in flight at once, and messages per fetch
SQLITE_BATCH = 128  # rows per commit, as a pull worker commits a fetched batch


@dataclass(frozen=True)
class JetStreamFloor:
    messages: int
    publish_s: float  # publish_async in windows, every ack from the server awaited
    consume_s: float  # pull fetch + ack_sync of every message

    @property
    def total_s(self) -> float:
        return self.publish_s + self.consume_s


@dataclass(frozen=True)
class SqliteFloor:
    rows: int
    one_row_s: float  # one row per commit
    batched_s: float  # SQLITE_BATCH rows per commit
    batch: int = SQLITE_BATCH


async def raw_jetstream(
    url: str, count: int, *, stream: str = "FLOOR", subject: str = "floor.test", drop: bool = False
) -> JetStreamFloor:
    """`count` messages published to a fresh stream `stream`, then fetched and
    acked by one durable pull consumer. `drop` deletes the stream afterwards, so
    a run can measure on a server that carries real streams and leave no trace."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    try:
        start = time.perf_counter()
        for i in range(0, count, WINDOW):
            futures = [await js.publish_async(subject, BODY) for _ in range(min(WINDOW, count - i))]
            await asyncio.gather(*futures)
        publish_s = time.perf_counter() - start
        sub = await js.pull_subscribe(
            subject,
            durable=f"{stream.lower()}-reader",
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
        start = time.perf_counter()
        seen = 0
        while seen < count:
            msgs = await sub.fetch(WINDOW, timeout=2)
            await asyncio.gather(*(m.ack_sync() for m in msgs))
            seen += len(msgs)
        consume_s = time.perf_counter() - start
    finally:
        if drop:
            await js.delete_stream(stream)
        await nc.close()
    return JetStreamFloor(count, publish_s, consume_s)


def raw_sqlite(path: Path, count: int, batch: int = SQLITE_BATCH) -> SqliteFloor:
    """`count` one-row commits, then `count` rows committed `batch` at a time, in
    a new database at `path` set up as the services set theirs up (WAL,
    synchronous=NORMAL)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        start = time.perf_counter()
        for i in range(count):
            db.execute("BEGIN")
            db.execute("INSERT INTO t (v) VALUES (?)", (f"row-{i}",))
            db.execute("COMMIT")
        one_row_s = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(0, count, batch):
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO t (v) VALUES (?)",
                [(f"b-{j}",) for j in range(i, min(count, i + batch))],
            )
            db.execute("COMMIT")
        batched_s = time.perf_counter() - start
    finally:
        db.close()
    return SqliteFloor(count, one_row_s, batched_s, batch)
