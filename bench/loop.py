"""Loop benchmark: detections/s through ingest, and latency from a detection
being accepted (HTTP 202) to its work order being created, on the whole stack
(nats-server + every service as its own process, SQLite).

    uv run python bench/loop.py --detections 5000 --concurrency 32

It prints figures; it asserts nothing. The first figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
from common import OrderLatencyProbe, bench_stack, cpu_seconds, percentile, rss_mb

from cityops_tools.devstack import Stack
from cityops_tools.loop import detection_payload
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path


async def run(detections: int, concurrency: int, stack: Stack) -> None:
    rng = random.Random(1)
    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    payloads = [detection_payload(rng, city, catalogue, i) for i in range(detections)]
    accepted_at: dict[str, float] = {}
    probe = OrderLatencyProbe()
    nc = await nats.connect(f"nats://127.0.0.1:{stack.ports.nats}")
    await probe.subscribe(nc)

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
    while len(probe.order_created_at) < len(accepted_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    loop_seconds = time.perf_counter() - start
    latencies = probe.latencies_ms(accepted_at)
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
    print(f"work orders created        {len(probe.order_created_at)} of {len(accepted_at)}")
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
    with bench_stack(args.keep) as stack:
        asyncio.run(run(args.detections, args.concurrency, stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
