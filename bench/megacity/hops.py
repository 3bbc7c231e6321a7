"""Where a case's time goes between "detection accepted" and "work order
visible", hop by hop, from the span files of a run made with
``--keep DIR --spans``:

    uv run python -m bench.megacity.hops DIR/spans [--slowest 5]

The benchmark's latency figure is one number per case; this splits it along
the chain the case travels (detection's request and relay, intake, dispatch,
workorders) so a slow tail can be told apart: a handler that runs long, a
relay that publishes late, or a consumer that fetches late. Prints each
step's p50/p99 and the slowest cases' timelines. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.common import percentile

# The spans a newly filed case passes, in order: (service, span name).
CHAIN: tuple[tuple[str, str], ...] = (
    ("detection", "POST /ingest"),
    ("detection", "cityops.detection.detection.reported publish"),
    ("intake", "cityops.detection.detection.reported process"),
    ("intake", "cityops.intake.case.filed publish"),
    ("dispatch", "cityops.intake.case.filed process"),
    ("dispatch", "cityops.dispatch.case.dispatched publish"),
    ("workorders", "cityops.dispatch.case.dispatched process"),
    ("workorders", "cityops.workorders.workorder.created publish"),
)
# What the time from one chain span's start to the next one's start is.
STEPS: tuple[str, ...] = (
    "detection: request and relay to JetStream",
    "JetStream → intake's handler",
    "intake: handle, commit, relay",
    "JetStream → dispatch's handler",
    "dispatch: handle, commit, relay",
    "JetStream → workorders' handler",
    "workorders: handle, commit, relay",
)


@dataclass(frozen=True)
class Hop:
    service: str
    name: str
    start_ns: int
    end_ns: int


def load_spans(folder: Path) -> dict[str, list[Hop]]:
    """Every span of every service's file, by trace id (a line cut short by a
    killed process is skipped)."""
    traces: dict[str, list[Hop]] = defaultdict(list)
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                span: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue
            traces[span["trace_id"]].append(
                Hop(span["service"], span["name"], span["start_time"], span["end_time"])
            )
    return traces


def chain_of(spans: Iterable[Hop]) -> list[Hop] | None:
    """The trace's first span for each link of the chain, or None when the
    trace did not file a case (a report that corroborated an open one)."""
    ordered = sorted(spans, key=lambda s: s.start_ns)
    found: list[Hop] = []
    for service, name in CHAIN:
        hop = next(
            (
                s
                for s in ordered
                if s.service == service
                and s.name.startswith(name)
                and (not found or s.start_ns >= found[-1].start_ns)
            ),
            None,
        )
        if hop is None:
            return None
        found.append(hop)
    return found


def step_ms(chain: Sequence[Hop]) -> list[float]:
    return [(b.start_ns - a.start_ns) / 1e6 for a, b in pairwise(chain)]


def report(traces: dict[str, list[Hop]], slowest: int) -> list[str]:
    chains = [c for c in (chain_of(spans) for spans in traces.values()) if c is not None]
    if not chains:
        return ["no trace runs from a detection to a work order: was the run made with --spans?"]
    totals = [(c[-1].start_ns - c[0].start_ns) / 1e6 for c in chains]
    lines = [
        f"cases        {len(chains)} traced from the request to workorder.created",
        f"total        p50 {percentile(totals, 0.5):8.1f} ms   p99 {percentile(totals, 0.99):8.1f} ms",
    ]
    steps = [step_ms(c) for c in chains]
    for i, label in enumerate(STEPS):
        values = [s[i] for s in steps]
        lines.append(
            f"  {label:<42} p50 {percentile(values, 0.5):8.1f} ms   "
            f"p99 {percentile(values, 0.99):8.1f} ms"
        )
    run_start = min(c[0].start_ns for c in chains)
    for total, chain in sorted(zip(totals, chains, strict=True), key=lambda p: -p[0])[:slowest]:
        at = (chain[0].start_ns - run_start) / 1e9
        lines.append(f"slow case    {total:.0f} ms, accepted {at:.1f} s into the run:")
        for label, ms in zip(STEPS, step_ms(chain), strict=True):
            lines.append(f"  {label:<42} {ms:8.1f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spans", type=Path, help="the run's DIR/spans folder")
    parser.add_argument("--slowest", type=int, default=3, help="timelines of the N slowest cases")
    args = parser.parse_args()
    print("\n".join(report(load_spans(args.spans), args.slowest)))


if __name__ == "__main__":
    main()
