"""Loop benchmark: detections/s through ingest, and latency from a detection
being accepted (HTTP 202) to its work order being created, on the whole stack
(nats-server + every service as its own process, SQLite).

    uv run python bench/loop.py --detections 5000 --concurrency 32

It prints figures; it asserts nothing. The first figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats

from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops_tools.devstack import Ports, Stack
from cityops_tools.loop import detection_payload
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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


async def run(detections: int, concurrency: int, stack: Stack) -> None:
    rng = random.Random(1)
    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    payloads = [detection_payload(rng, city, catalogue, i) for i in range(detections)]
    accepted_at: dict[str, float] = {}
    case_of_detection: dict[str, str] = {}
    order_created_at: dict[str, float] = {}

    nc = await nats.connect(f"nats://127.0.0.1:{stack.ports.nats}")

    async def on_filed(msg: nats.aio.msg.Msg) -> None:
        event = intake_events.CaseFiled.FromString(msg.data)
        for detection_id in event.case.detection_ids:
            case_of_detection[detection_id] = event.case.case_id

    async def on_created(msg: nats.aio.msg.Msg) -> None:
        event = workorder_events.WorkOrderCreated.FromString(msg.data)
        order_created_at.setdefault(event.work_order.case_id, time.perf_counter())

    await nc.subscribe("cityops.intake.case.filed", cb=on_filed)
    await nc.subscribe("cityops.workorders.workorder.created", cb=on_created)

    url = f"http://127.0.0.1:{stack.ports.detection_http}/ingest/detections"
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for p in payloads:
        p["observed_at"] = datetime.now(UTC).isoformat()
        queue.put_nowait(p)
    refused = 0

    async def client() -> None:
        nonlocal refused
        async with httpx.AsyncClient(timeout=30) as http:
            while not queue.empty():
                body = queue.get_nowait()
                reply = await http.post(url, json=body)
                if reply.status_code == 202:
                    accepted_at[reply.json()["detection_id"]] = time.perf_counter()
                else:
                    refused += 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    ingest_seconds = time.perf_counter() - start
    deadline = time.perf_counter() + 300
    while len(order_created_at) < len(accepted_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    loop_seconds = time.perf_counter() - start
    latencies = [
        (order_created_at[case_of_detection[d]] - t) * 1000
        for d, t in accepted_at.items()
        if d in case_of_detection and case_of_detection[d] in order_created_at
    ]
    await nc.close()

    print(
        f"detections posted          {detections} ({refused} refused), {concurrency} concurrent clients"
    )
    print(f"ingest throughput          {len(accepted_at) / ingest_seconds:8.0f} detections/s")
    print(
        f"to work order (all done)   {len(latencies) / loop_seconds:8.0f} detections/s end to end"
    )
    if latencies:
        print(
            f"latency accepted → order   p50 {statistics.median(latencies):7.0f} ms   p99 {percentile(latencies, 0.99):7.0f} ms"
        )
    print(f"work orders created        {len(order_created_at)} of {len(accepted_at)}")
    total = cpu_total = 0.0
    for name, proc in stack.processes.items():
        peak, cpu = rss_mb(proc.pid), cpu_seconds(proc.pid)
        total += peak
        cpu_total += cpu
        per = cpu / max(1, len(accepted_at)) * 1000
        print(f"{name:<12} peak RSS {peak:6.0f} MiB   CPU {cpu:6.1f} s ({per:5.2f} ms/detection)")
    print(f"services     peak RSS {total:6.0f} MiB   CPU {cpu_total:6.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detections", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keep", type=Path, help="keep the stack's data and logs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-bench-") as tmp:
        root = args.keep or Path(tmp)
        stack = Stack(data_dir=root, ports=Ports.free(), log_format="json", log_dir=root / "logs")
        with stack.running():
            asyncio.run(run(args.detections, args.concurrency, stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
