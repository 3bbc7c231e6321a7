"""The ingest benchmark runs on a small day and prints its figures. A smoke
test only: the figures are never asserted, but every report must be accepted
and reach the stream (a benchmark that lost reports would measure nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_small_ingest_run_accepts_and_publishes_every_report() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--detections", "300", "--batch", "50"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = dict(line.split(maxsplit=1) for line in run.stdout.splitlines() if line.strip())
    assert figures["accepted"].startswith("300 (not accepted: 0)"), run.stdout
    assert figures["on"].startswith("stream    300 "), run.stdout
    for name in ("ingest", "request", "detection"):
        assert name in figures, run.stdout
