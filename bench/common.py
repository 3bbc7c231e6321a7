"""What the whole-stack benchmarks share: a throw-away stack, per-process memory
and CPU from /proc, percentiles, and the latency probe that pairs a detection
accepted over HTTP with its case's first work order seen on NATS.

Imported by bench/loop.py (run as a script: `from common import ...`) and by
bench/megacity (run as `python -m bench.megacity`: `from bench.common import ...`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg

from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops_tools.devstack import Ports, Stack
from svckit.messaging.subjects import CASE_FILED, WORKORDER_CREATED


@contextlib.contextmanager
def bench_stack(
    keep: Path | None = None, start_timeout: float = 180.0, *, spans: bool = False
) -> Iterator[Stack]:
    """nats-server and every service on free loopback ports; data in a temporary
    folder unless `keep` names one (then logs and databases stay for a look).
    With `spans` each service also writes its finished spans to
    <folder>/spans/<service>.jsonl, to follow a slow case hop by hop (it costs
    the services CPU, so it is off for the figures)."""
    with tempfile.TemporaryDirectory(prefix="cityops-bench-") as tmp:
        root = keep or Path(tmp)
        stack = Stack(
            data_dir=root,
            ports=Ports.free(),
            log_format="json",
            log_dir=root / "logs",
            span_dir=root / "spans" if spans else None,
        )
        try:
            # Generous: on a shared 2-core machine six Python services take a while to start.
            stack.start(timeout=start_timeout)
            yield stack
        finally:
            stack.stop()


def stack_pids(stack: Stack) -> dict[str, int]:
    """Every process of the stack, nats-server included, by name."""
    pids = {name: proc.pid for name, proc in stack.processes.items()}
    # NatsServer keeps its process private; its memory belongs in the total all the same.
    proc = getattr(stack.nats, "_proc", None)
    if proc is not None:
        pids["nats-server"] = proc.pid
    return pids


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process so far, MiB."""
    return _status_kib(pid, "VmHWM:") / 1024


def current_rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) now, MiB."""
    return _status_kib(pid, "VmRSS:") / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class OrderLatencyProbe:
    """Watches case.filed and workorder.created on core NATS (events are
    published after their transaction commits, so an order seen here is one the
    department can list) and turns accept times into accepted → order latencies."""

    def __init__(self) -> None:
        self.case_of_detection: dict[str, str] = {}
        self.order_created_at: dict[str, float] = {}

    async def subscribe(self, nc: Client) -> None:
        await nc.subscribe(CASE_FILED, cb=self._on_filed)
        await nc.subscribe(WORKORDER_CREATED, cb=self._on_created)

    async def _on_filed(self, msg: Msg) -> None:
        event = intake_events.CaseFiled.FromString(msg.data)
        for detection_id in event.case.detection_ids:
            self.case_of_detection[detection_id] = event.case.case_id

    async def _on_created(self, msg: Msg) -> None:
        event = workorder_events.WorkOrderCreated.FromString(msg.data)
        self.order_created_at.setdefault(event.work_order.case_id, time.perf_counter())

    def latencies_ms(self, accepted_at: dict[str, float]) -> list[float]:
        """Per case, from its earliest accepted detection to its first work order."""
        first: dict[str, float] = {}
        for detection_id, at in accepted_at.items():
            case_id = self.case_of_detection.get(detection_id)
            if case_id is not None and case_id in self.order_created_at:
                first[case_id] = min(at, first.get(case_id, at))
        return [max(0.0, (self.order_created_at[c] - t) * 1000) for c, t in first.items()]
