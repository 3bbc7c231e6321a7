"""Megacity day: a generated day of city reports replayed against the whole
stack (nats-server + every service as its own process, SQLite), with
departments, an inspector and a supervisor working every case to closed.

    uv run python -m bench.megacity --detections 3000 --rate 100 [--seed 7]

It prints sustained detections/s, cases/s through the whole loop (filed →
dispatched → accepted → completed → verified → closed, ledger verified at the
end), latency p50/p99 from detection accepted (HTTP 202) to work order created,
peak RSS per process and in total, how the events reached each consumer (the
mean fetched batch: an event alone in its batch pays every fixed cost alone),
and the floor: raw JetStream publish + fetch + ack and raw SQLite commits for
as many hops as the run made, measured once the run has settled on the same
nats-server, with the pipeline's time as a multiple of it (--no-floor skips it). It writes plots to bench/results/.
It asserts nothing. Run from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from bench.common import bench_stack
from bench.megacity.actors import Behaviour
from bench.megacity.batching import print_batching, scrape
from bench.megacity.day import DAY_SECONDS, DayGenerator
from bench.megacity.floor import count_hops, measure_floor
from bench.megacity.report import loop_seconds, print_figures, print_floor, write_plots
from bench.megacity.run import replay
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _speed(args: argparse.Namespace) -> float:
    """Day seconds per wall-clock second."""
    if args.speed is not None:
        return float(args.speed)
    if args.duration is not None:
        return DAY_SECONDS / args.duration
    return args.rate * DAY_SECONDS / args.detections


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.megacity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--detections", type=int, default=5000, help="size of the day")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="replay speed: day seconds per real second")
    pace.add_argument("--rate", type=float, default=100.0, help="average detections/s offered")
    pace.add_argument("--duration", type=float, help="replay the whole day in this many seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP clients posting")
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="reports per request: 1 posts POST /ingest/detections one by one; more posts "
        "CloudEvents batches of what is released (bench/megacity/posting.py)",
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="give up when nothing moved for this long (s)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=600.0,
        help="after the last detection, wait at most this long for cases to close (s)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the plots")
    parser.add_argument("--keep", type=Path, help="keep the stack's data and logs in this folder")
    parser.add_argument(
        "--spans",
        action="store_true",
        help="with --keep: every service writes its spans to DIR/spans/<service>.jsonl",
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip measuring raw JetStream and SQLite for the run's number of hops",
    )
    args = parser.parse_args()
    if args.detections < 1:
        parser.error("--detections must be at least 1")
    if not 1 <= args.batch <= 500:
        parser.error("--batch must be 1–500 (detection's CloudEvents batch limit)")

    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    day = DayGenerator(city, catalogue, args.seed).day(args.detections)
    speed = _speed(args)
    if speed <= 0:
        parser.error("the replay speed must be positive")
    span = (day[-1].at - day[0].at) if day else 0.0
    mix = Counter(r.origin for r in day)
    print(
        f"megacity day               {len(day)} detections ("
        + ", ".join(f"{k} {v}" for k, v in sorted(mix.items()))
        + f"), {len({r.body['category_code'] for r in day})} categories; "
        f"replay ×{speed:.0f} → {span / speed:.0f} s",
        flush=True,
    )
    started = time.strftime("%Y%m%d-%H%M%S")
    # A CI timeout or `kill` stops the stack too (the finally blocks run).
    signal.signal(signal.SIGTERM, _interrupt)
    with bench_stack(args.keep, spans=args.spans and args.keep is not None) as stack:
        rec = asyncio.run(
            replay(
                stack,
                day,
                speed=speed,
                concurrency=args.concurrency,
                batch=args.batch,
                seed=args.seed,
                behaviour=Behaviour(),
                drain_s=args.drain,
                settle_s=args.settle,
            )
        )
        # Figures while the processes still exist: peak RSS and CPU come from /proc.
        print_figures(rec, offered_rate=len(day) / max(1e-6, span / speed))
        print_batching(asyncio.run(scrape(stack.ports)))
        # After the figures, so the floor's work is not in their CPU times.
        hops = count_hops(rec)
        if not args.no_floor and hops.hops:
            floor = asyncio.run(measure_floor(f"nats://127.0.0.1:{stack.ports.nats}", hops))
            print_floor(floor, pipeline_s=loop_seconds(rec))
    if not args.no_plots:
        for path in write_plots(rec, args.results, f"megacity-{started}"):
            print(f"plot                       {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
