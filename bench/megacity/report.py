"""The figures a megacity run prints, and its plots (PNG) for docs/performance.md."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from bench.common import cpu_seconds, percentile, rss_mb
from bench.megacity.floor import Floor
from bench.megacity.run import Recording


def _windowed_peak(times: list[float], window: float = 10.0) -> float:
    """The highest rate over any `window` seconds, per second."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] < t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


def loop_seconds(rec: Recording) -> float:
    """The pipeline's time: from the replay's start (the first detection is
    posted at once) to the last case closed, or to the end of the run if none
    closed."""
    closed = rec.closed_resolved
    return max(1e-6, max(closed) if closed else rec.end_seconds)


def print_figures(rec: Recording, offered_rate: float) -> None:
    accepted = sorted(rec.accepted_at.values())
    ingest_s = max(1e-6, rec.replay_seconds)
    closed = sorted(rec.closed_resolved)
    ev = rec.events
    print(
        f"detections posted          {rec.posted} in {rec.requests} requests "
        f"({rec.refused} refused, {rec.failed} failed); "
        f"offered {offered_rate:.0f}/s on average"
    )
    print(
        f"sustained ingest           {len(accepted) / ingest_s:8.1f} detections/s "
        f"({len(accepted)} accepted in {ingest_s:.1f} s; peak 10 s window "
        f"{_windowed_peak(accepted):.0f}/s)"
    )
    loop_s = loop_seconds(rec)
    print(
        f"cases through the loop     {len(closed) / loop_s:8.2f} cases/s "
        f"({len(closed)} closed of {len(ev['filed'])} filed in {loop_s:.1f} s; "
        f"peak 10 s window {_windowed_peak(closed):.1f}/s)"
    )
    if rec.latencies_ms:
        lat = rec.latencies_ms
        print(
            f"latency accepted → order   p50 {statistics.median(lat):8.0f} ms   "
            f"p99 {percentile(lat, 0.99):8.0f} ms   max {max(lat):8.0f} ms   ({len(lat)} cases)"
        )
    else:
        print("latency accepted → order   no work order seen")
    stages = ("filed", "dispatched", "order created", "accepted", "completed", "verified", "closed")
    print("loop events                " + "  ".join(f"{s} {len(ev[s])}" for s in stages))
    detours = (
        "corroborated",
        "discarded",
        "unroutable",
        "returned",
        "redispatched",
        "arbitration",
        "extension requested",
        "extension decided",
        "rework",
        "reopened",
    )
    print("detours                    " + "  ".join(f"{s} {len(ev[s])}" for s in detours))
    print(f"ledger                     {rec.ledger}")
    if rec.left_in_hand:
        print(f"left unfinished            {rec.left_in_hand} actions still in hand at the end")
    if rec.looked_again:
        print(
            "people looked again        "
            + "  ".join(f"{k} ×{v}" for k, v in sorted(rec.looked_again.items()))
            + "  (answered 'not yet': a service had not caught up)"
        )
    if rec.errors:
        print("actor errors               " + "; ".join(f"{k} ×{v}" for k, v in rec.errors.items()))
    total = cpu_total = startup_total = 0.0
    for name, pid in rec.pids.items():
        startup = rec.cpu_at_start.get(name, 0.0)
        peak, cpu = rss_mb(pid), cpu_seconds(pid) - startup
        total += peak
        cpu_total += cpu
        startup_total += startup
        print(
            f"{name:<12} peak RSS {peak:6.0f} MiB   CPU {cpu:7.1f} s   (start-up {startup:.1f} s)"
        )
    coincident = max(
        (sum(v for _, v in points) for points in zip(*rec.rss.values(), strict=False)),
        default=0.0,
    )
    me = os.getpid()
    print(
        f"{'(load generator)':<12} peak RSS {rss_mb(me):6.0f} MiB   CPU {cpu_seconds(me):7.1f} s"
        "   (this process; not in the total)"
    )
    print(
        f"peak RSS total             {total:6.0f} MiB (sum of per-process peaks; "
        f"highest sampled total {coincident:.0f} MiB)   CPU {cpu_total:.1f} s "
        f"during the run (start-up {startup_total:.1f} s before it, not included)"
    )


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def print_floor(floor: Floor, pipeline_s: float) -> None:
    """The floor is JetStream plus SQLite for every hop: the least the machine
    needs to move the run's events, with none of our code involved."""
    js, db = floor.jetstream.total_s, floor.sqlite
    raw = max(1e-9, js + db.one_row_s)
    batched = max(1e-9, js + db.batched_s)
    print(
        f"floor (same hops)          {floor.hops.hops} hops ({floor.hops.events} events): "
        f"JetStream pub+fetch+ack {js:.2f} s, SQLite 1-row commits {db.one_row_s:.2f} s "
        f"(batched {db.batched_s:.2f} s); pipeline/floor ratio {_times(pipeline_s / raw)} "
        f"({_times(pipeline_s / batched)} vs batched)"
    )


def write_plots(rec: Recording, folder: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    end = max(1.0, rec.end_seconds)
    width = max(2.0, round(end / 80))
    bins = [i * width for i in range(int(end / width) + 2)]

    fig, ax = plt.subplots(figsize=(9, 4.5))
    series = {
        "detections accepted": list(rec.accepted_at.values()),
        "work orders created": rec.events["order created"],
        "cases closed": rec.closed_resolved,
    }
    for label, times in series.items():
        counts, edges = _histogram(times, bins)
        ax.plot(edges, [c / width for c in counts], label=label)
    ax.set_xlabel("seconds since the replay started")
    ax.set_ylabel(f"per second ({width:.0f} s bins)")
    ax.set_title("Megacity day: throughput over the run")
    ax.legend()
    ax.grid(alpha=0.3)
    written.append(_save(fig, folder / f"{stem}-throughput.png"))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    if rec.latencies_ms:
        ax.hist(rec.latencies_ms, bins=60, color="tab:blue")
        for q, style in ((0.5, "--"), (0.99, ":")):
            value = percentile(rec.latencies_ms, q)
            ax.axvline(
                value, color="black", linestyle=style, label=f"p{int(q * 100)} {value:.0f} ms"
            )
        ax.legend()
    ax.set_xlabel("ms from detection accepted (HTTP 202) to work order created")
    ax.set_ylabel("cases")
    ax.set_title("Megacity day: latency distribution")
    written.append(_save(fig, folder / f"{stem}-latency.png"))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    total: dict[float, float] = {}
    for name, points in rec.rss.items():
        ax.plot([t for t, _ in points], [v for _, v in points], label=name, linewidth=1)
        for t, v in points:
            total[t] = total.get(t, 0.0) + v
    ax.plot(list(total), list(total.values()), label="total", color="black", linewidth=2)
    ax.set_xlabel("seconds since the replay started")
    ax.set_ylabel("RSS, MiB")
    ax.set_title("Megacity day: resident memory per process")
    ax.legend(fontsize="small", ncol=2)
    ax.grid(alpha=0.3)
    written.append(_save(fig, folder / f"{stem}-rss.png"))
    return written


def _histogram(times: list[float], bins: list[float]) -> tuple[list[int], list[float]]:
    width = bins[1] - bins[0]
    counts = [0] * (len(bins) - 1)
    for t in times:
        counts[min(len(counts) - 1, int(t / width))] += 1
    return counts, bins[:-1]


def _save(fig: object, path: Path) -> Path:
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(path, dpi=110)  # type: ignore[attr-defined]
    import matplotlib.pyplot as plt

    plt.close(fig)  # type: ignore[arg-type]
    return path
