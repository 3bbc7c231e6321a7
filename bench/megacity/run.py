"""Replays a generated day against a running stack and records what happens:
when each detection was accepted, when each stage's event appeared on NATS,
and every process's memory over time."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import grpc
import httpx
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bench.common import OrderLatencyProbe, cpu_seconds, current_rss_mb, stack_pids
from bench.megacity.actors import Behaviour, CityActors
from bench.megacity.day import DAY_SECONDS, Report
from bench.megacity.posting import Poster, take
from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import events_pb2 as audit_events
from cityops_tools.devstack import Stack
from svckit.grpc.identity import Caller
from svckit.messaging import subjects

AUDITOR = Caller(user_id="bench-auditor", role="auditor")
# The loop's stages as their events name them, in order, plus the detours.
STAGES = {
    "filed": subjects.CASE_FILED,
    "dispatched": subjects.CASE_DISPATCHED,
    "order created": subjects.WORKORDER_CREATED,
    "accepted": subjects.WORKORDER_ACCEPTED,
    "completed": subjects.WORKORDER_COMPLETED,
    "verified": subjects.CASE_VERIFIED,
    "closed": subjects.CASE_CLOSED,
    "discarded": "cityops.intake.detection.discarded",
    "corroborated": "cityops.intake.case.corroborated",
    "unroutable": subjects.CASE_UNROUTABLE,
    "returned": subjects.WORKORDER_RETURNED,
    "redispatched": subjects.CASE_REDISPATCHED,
    "extension requested": subjects.WORKORDER_EXTENSION_REQUESTED,
    "extension decided": subjects.EXTENSION_DECIDED,
    "rework": subjects.CASE_REWORK,
    "reopened": subjects.WORKORDER_REOPENED,
    "arbitration": subjects.CASE_ARBITRATION_REQUESTED,
}


@dataclass
class Recording:
    """Everything measured, as monotonic seconds since the replay started."""

    speed: float
    posted: int = 0
    # Time of day of the latest report handed to a client (the replay's position).
    day_position: float = 0.0
    refused: int = 0
    failed: int = 0
    requests: int = 0
    accepted_at: dict[str, float] = field(default_factory=dict)
    events: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    closed_resolved: list[float] = field(default_factory=list)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    latencies_ms: list[float] = field(default_factory=list)
    replay_seconds: float = 0.0
    end_seconds: float = 0.0
    ledger: str = ""
    actions: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    looked_again: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    # CPU seconds each process had used when the replay started (start-up:
    # imports, migrations, connecting), so the report can leave it out.
    cpu_at_start: dict[str, float] = field(default_factory=dict)
    left_in_hand: int = 0


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.start


async def _watch_stages(nc: Client, clock: _Clock, rec: Recording) -> None:
    for name, subject in STAGES.items():

        async def on_event(msg: Msg, name: str = name) -> None:
            rec.events[name].append(clock.now())
            if name == "closed":
                event = audit_events.CaseClosed.FromString(msg.data)
                if event.reason_code in ("RESOLVED", "MACHINE_VERIFIED"):
                    rec.closed_resolved.append(clock.now())

        await nc.subscribe(subject, cb=on_event)


async def _sample_memory(stack: Stack, clock: _Clock, rec: Recording) -> None:
    while True:
        at = clock.now()
        for name, pid in rec.pids.items():
            rec.rss[name].append((at, current_rss_mb(pid)))
        await asyncio.sleep(0.5)


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / max(1, total))
    return "#" * filled + "-" * (width - filled)


async def _progress(clock: _Clock, rec: Recording, day: list[Report], actors: CityActors) -> None:
    """One line, rewritten each second on a terminal; a new line every 5 s in a log."""
    tty = sys.stderr.isatty()
    period = 1.0 if tty else 5.0
    total = len(day)
    last_posted, last_at = 0, 0.0
    while True:
        await asyncio.sleep(period)
        at = clock.now()
        posted = len(rec.accepted_at)
        rate = (posted - last_posted) / max(1e-6, at - last_at)
        last_posted, last_at = posted, at
        sim = min(DAY_SECONDS - 1, rec.day_position)
        ev = rec.events
        print(
            f"{chr(13) if tty else ''}[{_bar(posted, total)}] {posted}/{total} accepted {rate:5.0f}/s  "
            f"day {int(sim // 3600):02d}:{int(sim % 3600 // 60):02d}  "
            f"filed {len(ev['filed'])} orders {len(ev['order created'])} "
            f"closed {len(rec.closed_resolved)}  in hand {actors.busy}  t={at:5.0f}s ",
            end="" if tty else "\n",
            file=sys.stderr,
            flush=True,
        )


async def _post_all(
    base_url: str,
    day: list[Report],
    speed: float,
    concurrency: int,
    batch: int,
    clock: _Clock,
    rec: Recording,
) -> None:
    """A scheduler releases each report at its time of day / speed; `concurrency`
    clients post what is released, up to `batch` reports per request
    (bench/megacity/posting.py). Behind schedule, they post as fast as ingest
    answers."""
    queue: asyncio.Queue[Report | None] = asyncio.Queue()

    def accepted(detection_id: str) -> None:
        rec.accepted_at[detection_id] = clock.now()

    poster = Poster(base_url, batch, accepted)

    async def client() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            while (reports := await take(queue, poster.batch)) is not None:
                rec.posted += len(reports)
                rec.day_position = max(rec.day_position, reports[-1].at)
                await poster.post(http, reports)
                rec.refused, rec.failed = poster.refused, poster.failed

    clients = [asyncio.create_task(client()) for _ in range(concurrency)]
    first = day[0].at if day else 0.0
    for report in day:
        due = (report.at - first) / speed
        delay = due - clock.now()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(report)
    queue.put_nowait(None)  # one end mark; each client leaves it for the next
    await asyncio.gather(*clients)
    rec.requests = poster.requests


async def _streams_drained(js: JetStreamContext) -> bool:
    """Whether every durable consumer has taken and acked all its stream holds.

    Every filed case being closed is not enough: when intake lags behind
    ingest, the cases it has filed so far can all be closed while detections
    still wait in its consumer."""
    for stream in await js.streams_info():
        assert stream.config.name is not None
        for consumer in await js.consumers_info(stream.config.name):
            if consumer.num_pending or consumer.num_ack_pending:
                return False
    return True


async def _settle(
    rec: Recording,
    actors: CityActors,
    clock: _Clock,
    drain_s: float,
    settle_s: float,
    js: JetStreamContext,
) -> None:
    """Until every filed case is closed and the streams are drained, nothing
    moved for `drain_s` seconds, or `settle_s` passed since the last detection.
    A quiet spell of 10 s triggers LoopDriver's polling sweep first."""
    seen, quiet_since = -1, clock.now()
    give_up = clock.now() + settle_s
    while clock.now() < give_up:
        moved = sum(len(v) for v in rec.events.values()) + sum(actors.actions.values())
        if moved != seen:
            seen, quiet_since = moved, clock.now()
        filed, closed = len(rec.events["filed"]), len(rec.events["closed"])
        if filed and closed >= filed and not actors.busy and await _streams_drained(js):
            return
        quiet = clock.now() - quiet_since
        if quiet > drain_s:
            return
        if quiet > 10 and not actors.busy and await actors.sweep():
            quiet_since = clock.now()
        await asyncio.sleep(0.5)


async def replay(
    stack: Stack,
    day: list[Report],
    *,
    speed: float,
    concurrency: int,
    batch: int,
    seed: int,
    behaviour: Behaviour,
    drain_s: float,
    settle_s: float,
) -> Recording:
    rec = Recording(speed=speed, pids=stack_pids(stack))
    rec.cpu_at_start = {name: cpu_seconds(pid) for name, pid in rec.pids.items()}
    nc = await nats.connect(f"nats://127.0.0.1:{stack.ports.nats}")
    probe = OrderLatencyProbe()
    actors = CityActors(
        stack.ports.grpc_target("intake"),
        stack.ports.grpc_target("workorders"),
        stack.ports.grpc_target("audit"),
        dispatch_target=stack.ports.grpc_target("dispatch"),
        behaviour=behaviour,
        seed=seed,
    )
    clock = _Clock()
    await probe.subscribe(nc)
    await _watch_stages(nc, clock, rec)
    await actors.subscribe(nc)
    background = [
        asyncio.create_task(_sample_memory(stack, clock, rec)),
        asyncio.create_task(_progress(clock, rec, day, actors)),
    ]
    base_url = f"http://127.0.0.1:{stack.ports.detection_http}"
    try:
        await _post_all(base_url, day, speed, concurrency, batch, clock, rec)
        rec.replay_seconds = max(rec.accepted_at.values(), default=clock.now())
        await _settle(rec, actors, clock, drain_s, settle_s, nc.jetstream())
        rec.end_seconds = clock.now()
    finally:
        for task in background:
            task.cancel()
        print(file=sys.stderr)
    # The probe's clock is perf_counter; shift accept times onto it.
    rec.latencies_ms = probe.latencies_ms({d: clock.start + t for d, t in rec.accepted_at.items()})
    rec.ledger = await _verify_ledger(actors)
    rec.actions = {**actors.counts, **actors.actions}
    rec.errors = dict(actors.errors)
    rec.looked_again = dict(actors.looked_again)
    rec.left_in_hand = actors.abandon()
    await nc.close()
    return rec


async def _verify_ledger(actors: CityActors) -> str:
    """The ledger is part of the loop: every closure must be in a verifiable chain."""
    try:
        reply = await actors._audit.VerifyLedger(
            audit_pb.VerifyLedgerRequest(), metadata=AUDITOR.metadata(), timeout=120
        )
    except grpc.aio.AioRpcError as exc:
        return f"not verified ({exc.code().name}: {exc.details()})"
    if reply.ok:
        return f"verified, {reply.entries_checked} entries, tree size {reply.tree_size}"
    return f"BROKEN at {reply.first_bad_sequence}: {reply.problem}"
