"""Dispatch decisions/s: the pure decision, and a filed case through the service layer.

    uv run python bench/dispatch.py --decisions 20000 --events 2000 --batch 128 --single 300

1. domain: the catalogue match (``route_case``: the rule in force for the 小类,
   place, date and urgency) and the working-time deadline of every assignment
   (``assignments_for``, each on its department's calendar), for cases spread
   over the sample city's 小类, places, urgencies and instants of 2026;
2. service layer: a ``CaseFiled`` through dispatch's real event handler, unit
   of work and SQLite store (case, assignments, 督办 timers, outbox and inbox
   rows), handled in batches in one transaction each as the pull worker does
   (and one per transaction, the worker's fallback after a failed batch).

No NATS: this is the decision and its transaction, not the delivery
(bench/floor.py measures one svckit hop). Prints figures; asserts nothing.
"""

# ruff: noqa: E402 (the imports follow the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# Run as bench/dispatch.py, this file would shadow the dispatch package: drop
# bench/ from the import path before importing it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import gc
import itertools
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from dispatch.adapters import tables  # noqa: F401 (registers dispatch's tables)
from dispatch.adapters.reference_files import load_reference
from dispatch.domain.areas import Place
from dispatch.domain.dispatching import Unroutable, assignments_for, route_case
from dispatch.domain.model import CaseFile, CaseState
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import catalogue, handlers
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit import db
from svckit.logging import configure_logging
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, durable_name

URGENCIES = {
    common_pb2.URGENCY_IMMEDIATE: "immediate",
    common_pb2.URGENCY_EXPECTED: "expected",
    common_pb2.URGENCY_FUTURE: "future",
}
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
CONSUMER = durable_name("dispatch", "intake")


@dataclass(frozen=True)
class Sample:
    category_code: str
    district_code: str
    point: tuple[float, float]
    urgency: common_pb2.Urgency.ValueType
    at: datetime


def samples(reference: ReferenceData, count: int, rng: random.Random) -> list[Sample]:
    """Cases as intake files them: a 小类, a point with its district, an urgency, an instant."""
    codes = [c.code for c in reference.catalogue]
    bounds = reference.city_map.bounds
    places: list[tuple[str, tuple[float, float]]] = []
    while len(places) < 500:
        lat = rng.uniform(bounds.min_latitude, bounds.max_latitude)
        lon = rng.uniform(bounds.min_longitude, bounds.max_longitude)
        found = reference.city_map.locate(lat, lon)
        if found is not None:
            places.append((found.district_code, (lat, lon)))
    urgencies = list(URGENCIES)
    result = []
    for _ in range(count):
        district, point = rng.choice(places)
        at = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
        result.append(Sample(rng.choice(codes), district, point, rng.choice(urgencies), at))
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latencies(label: str, seconds: list[float]) -> str:
    p50, p99 = percentile(seconds, 0.50) * 1e3, percentile(seconds, 0.99) * 1e3
    return f"{label} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms"


def domain(reference: ReferenceData, workload: list[Sample]) -> None:
    """Route each case and compute its assignments' working-time deadlines; no store."""
    matrix = reference.matrix
    ids = (f"D-{n}" for n in itertools.count())
    routed = 0
    each: list[float] = []
    gc.collect()
    start = time.perf_counter()
    for n, s in enumerate(workload):
        began = time.perf_counter()
        case = CaseFile(
            case_id=f"C-{n}",
            category_code=s.category_code,
            place=Place(s.district_code, "", "", s.point),
            title="",
            urgency=URGENCIES[s.urgency],
            state=CaseState.UNROUTABLE,
            received_at=s.at,
            updated_at=s.at,
        )
        outcome = route_case(matrix, case, s.at)
        if not isinstance(outcome, Unroutable):
            assignments_for(
                case,
                outcome,
                now=s.at,
                calendars=reference.calendars,
                directory=reference.directory,
                new_id=lambda: next(ids),
            )
            routed += 1
        each.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    print(
        f"domain   (match + working-time deadlines)  {len(workload) / elapsed:9.0f} decisions/s"
        f"  ({elapsed:6.2f} s for {len(workload)}, {routed} routed, "
        f"{len(workload) - routed} to the manual queue)"
    )
    print(f"         {latencies('per decision', each)}")


def filed(n: int, s: Sample) -> IncomingEvent:
    place = common_pb2.Place(
        district_code=s.district_code,
        point=common_pb2.GeoPoint(latitude=s.point[0], longitude=s.point[1]),
    )
    case = case_pb2.Case(
        case_id=f"BENCH-{n}",
        category_code=s.category_code,
        title=f"{s.category_code} bench",
        place=place,
        urgency=s.urgency,
        state=case_pb2.CASE_STATE_FILED,
    )
    return IncomingEvent(
        id=f"evt-{n}",
        type=intake_events.CaseFiled.DESCRIPTOR.full_name,
        source="/cityops/bench",
        subject=CASE_FILED,
        case_id=case.case_id,
        time=datetime.now(UTC),
        message=intake_events.CaseFiled(case=case),
        headers={},
    )


async def service_layer(
    reference: ReferenceData, workload: list[Sample], batch: int, directory: Path
) -> None:
    """Each batch: one transaction with the inbox check, the prepare hook (batches
    only, as the pull worker runs it), the handler per event, the commit."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{directory / f'dispatch-{batch}.db'}")
    await db.create_tables(engine)
    ctx = DispatchContext(reference=reference)

    def uow() -> DispatchUnitOfWork:
        return DispatchUnitOfWork(engine, "dispatch")

    await catalogue.seed_from_file(uow(), ctx)
    async with uow() as warm:
        await ctx.catalogue.matrix(warm)  # the managed catalogue, built once before timing
    events = [filed(n, s) for n, s in enumerate(workload)]
    handler_each: list[float] = []
    transactions: list[float] = []
    gc.collect()
    start = time.perf_counter()
    for first in range(0, len(events), batch):
        chunk = events[first : first + batch]
        began = time.perf_counter()
        async with uow() as unit:
            handled = await unit.seen_many(CONSUMER, [e.id for e in chunk])
            if len(chunk) > 1:
                await handlers.prepare_batch([e for e in chunk if e.id not in handled], unit)
            for event in chunk:
                if event.id in handled:
                    continue
                t = time.perf_counter()
                await handlers.on_intake_event(event, unit, ctx=ctx)
                unit.remember(CONSUMER, event.id)
                handler_each.append(time.perf_counter() - t)
            await unit.commit()
        transactions.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    label = "one per transaction" if batch == 1 else f"batches of {batch}"
    print(
        f"service  (CaseFiled → SQLite, {label:>19})  {len(events) / elapsed:9.0f} decisions/s"
        f"  ({elapsed:6.2f} s for {len(events)})"
    )
    print(f"         {latencies('handler     ', handler_each)}  (per decision, before commit)")
    what = "per decision, with its commit" if batch == 1 else f"per transaction of {batch}"
    print(f"         {latencies('transaction ', transactions)}  ({what})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=20000, help="pure domain decisions")
    parser.add_argument("--events", type=int, default=2000, help="CaseFiled events, batched")
    parser.add_argument("--batch", type=int, default=128, help="events per transaction")
    parser.add_argument("--single", type=int, default=300, help="events one per transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--log-level", default="error", help="the service logs each decision at info (off here)"
    )
    args = parser.parse_args()
    configure_logging("dispatch-bench", level=args.log_level)

    started = time.perf_counter()
    reference = load_reference()
    reference.matrix  # noqa: B018 (validated once, outside the timings)
    rng = random.Random(args.seed)
    print(
        f"dispatch bench: {len(reference.catalogue)} 小类, "
        f"{len(reference.document.rules)} rules, seed {args.seed}"
    )
    domain(reference, samples(reference, args.decisions, rng))
    print(f"         peak RSS {peak_rss_mb():.0f} MB")
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as tmp:
        if args.events:
            await service_layer(
                reference, samples(reference, args.events, rng), args.batch, Path(tmp)
            )
        if args.single:
            await service_layer(reference, samples(reference, args.single, rng), 1, Path(tmp))
    print(
        f"         peak RSS {peak_rss_mb():.0f} MB (whole run {time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
