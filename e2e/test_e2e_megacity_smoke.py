"""The megacity-day benchmark runs end to end on a small day and prints its
figures, and its span files split the latency hop by hop. A smoke test only:
the figures themselves are never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.megacity.hops import STEPS

REPO = Path(__file__).resolve().parents[1]
FIGURE_LINES = (
    "sustained ingest",
    "cases through the loop",
    "latency accepted → order",
    "loop events",
    "ledger",
    "peak RSS total",
    "consumer batches",
    "floor (same hops)",
    "pipeline/floor ratio",
)


def test_a_small_megacity_day_runs_and_prints_its_figures(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.megacity",
            "--detections",
            "150",
            "--rate",
            "50",
            "--drain",
            "20",
            "--seed",
            "3",
            "--results",
            str(tmp_path),
            "--keep",
            str(tmp_path / "stack"),
            "--spans",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for line in FIGURE_LINES:
        assert line in run.stdout, f"no {line!r} line in:\n{run.stdout}"
    # Every service's /metrics was read: the consumers' batches are listed.
    assert "intake-detection" in run.stdout and "none reported" not in run.stdout
    assert sorted(p.name.rsplit("-", 1)[-1] for p in tmp_path.glob("*.png")) == [
        "latency.png",
        "rss.png",
        "throughput.png",
    ]
    hops = subprocess.run(
        [sys.executable, "-m", "bench.megacity.hops", str(tmp_path / "stack" / "spans")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert hops.returncode == 0, hops.stdout + hops.stderr
    # Every filed case's trace runs the whole chain, so the span names still match.
    assert "traced from the request to workorder.created" in hops.stdout, hops.stdout
    for step in STEPS:
        assert step in hops.stdout, f"no {step!r} line in:\n{hops.stdout}"
