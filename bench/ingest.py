"""Ingest alone: detections/s that the detection service accepts and
publishes, with nats-server and nothing else behind it.

    uv run python -m bench.ingest --detections 20000 --batch 100 --concurrency 4

The megacity run shares two cores between ingest and every service behind it,
so its ingest figure says little about the front itself. Here only detection
runs (its own process, SQLite, its outbox relay to JetStream); the day's
reports are generated and encoded before the clock starts, so the load
generator costs little per report. Prints accepted/s, request latency p50/p99,
detection's CPU per accepted report and peak RSS, and how long the relay took
to get every accepted detection onto the stream. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
import nats

from bench.common import cpu_seconds, percentile, rss_mb
from bench.megacity.day import DayGenerator
from bench.megacity.posting import CLOUDEVENTS_BATCH, cloudevent
from cityops_tools.devstack import Ports, Stack
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path

STREAM = "DETECTION"


def _requests(detections: int, batch: int, seed: int) -> list[tuple[int, bytes]]:
    """Each request's report count and encoded body, made before timing starts."""
    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    reports = DayGenerator(city, catalogue, seed).day(detections)
    if batch == 1:
        return [(1, json.dumps(r.body).encode()) for r in reports]
    return [
        (len(chunk), json.dumps([cloudevent(r.body) for r in chunk]).encode())
        for chunk in (reports[i : i + batch] for i in range(0, len(reports), batch))
    ]


def _accepted(reply: httpx.Response, batch: int) -> int:
    if batch == 1:
        return 1 if reply.status_code == 202 else 0
    if reply.status_code != 200:
        return 0
    return sum(1 for item in reply.json()["results"] if item["status"] == 202)


async def _post_all(
    url: str, requests: list[tuple[int, bytes]], batch: int, concurrency: int
) -> tuple[int, int, list[float], float]:
    headers = {"content-type": CLOUDEVENTS_BATCH if batch > 1 else "application/json"}
    pending = iter(requests)
    accepted = failed = 0
    latencies: list[float] = []

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal accepted, failed
        for count, body in pending:
            started = time.perf_counter()
            try:
                reply = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                failed += count
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            got = _accepted(reply, batch)
            accepted += got
            failed += count - got

    limits = httpx.Limits(max_connections=concurrency, keepalive_expiry=60)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return accepted, failed, latencies, elapsed


async def _stream_messages(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def _run(args: argparse.Namespace, stack: Stack) -> None:
    requests = _requests(args.detections, args.batch, args.seed)
    pid = stack.processes["detection"].pid
    nats_url = f"nats://127.0.0.1:{stack.ports.nats}"
    url = f"http://127.0.0.1:{stack.ports.detection_http}"
    url += "/ingest/detections" if args.batch == 1 else "/ingest/cloudevents"
    before_messages = await _stream_messages(nats_url)
    cpu_before = cpu_seconds(pid)
    accepted, failed, latencies, elapsed = await _post_all(
        url, requests, args.batch, args.concurrency
    )
    cpu_at_end = cpu_seconds(pid)
    published_at = elapsed
    deadline = time.perf_counter() + args.drain
    started_wait = time.perf_counter()
    while time.perf_counter() < deadline:
        if await _stream_messages(nats_url) - before_messages >= accepted:
            published_at = elapsed + time.perf_counter() - started_wait
            break
        await asyncio.sleep(0.05)
    else:
        published_at = float("nan")
    cpu_total = cpu_seconds(pid) - cpu_before
    on_stream = await _stream_messages(nats_url) - before_messages
    print(f"detections   {args.detections} in {len(requests)} requests of <= {args.batch}")
    print(f"clients      {args.concurrency}")
    print(f"accepted     {accepted} (not accepted: {failed})")
    print(f"ingest       {accepted / elapsed:,.0f} accepted/s over {elapsed:.1f} s")
    print(
        f"request      p50 {percentile(latencies, 0.50):.1f} ms  "
        f"p99 {percentile(latencies, 0.99):.1f} ms"
    )
    print(
        f"on stream    {on_stream} ({accepted / published_at:,.0f}/s counting until the last "
        f"was published, {published_at:.1f} s)"
    )
    print(
        f"detection    CPU {cpu_at_end - cpu_before:.1f} s while posting, {cpu_total:.1f} s "
        f"with the relay's tail: {cpu_total / max(accepted, 1) * 1000:.2f} ms per report; "
        f"peak RSS {rss_mb(pid):.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100, help="reports per request (1: generic)")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP clients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", type=float, default=120, help="s to wait for the relay")
    parser.add_argument("--keep", type=Path, help="keep data and logs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-ingest-") as tmp:
        root = args.keep or Path(tmp)
        stack = Stack(
            data_dir=root,
            ports=Ports.free(),
            log_format="json",
            log_dir=root / "logs",
            services=("detection",),
        )
        try:
            stack.start(timeout=120)
            asyncio.run(_run(args, stack))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
