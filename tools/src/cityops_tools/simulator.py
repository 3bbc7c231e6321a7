"""`make demo`: a plausible stream of detections over the sample city, and
departments and inspectors working them, so a person watching the console sees
cases appear, get dispatched and close.

    python -m cityops_tools.simulator [--rate 2] [--count N] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys

import grpc
import httpx

from cityops_tools.devstack import Ports
from cityops_tools.loop import LoopDriver, detection_payload
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path


async def simulate(ports: Ports, rate: float, count: int | None, seed: int) -> None:
    rng = random.Random(seed)
    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    driver = LoopDriver(
        ports.grpc_target("intake"), ports.grpc_target("workorders"), ports.grpc_target("audit")
    )
    url = f"http://127.0.0.1:{ports.detection_http}/ingest/detections"
    sent = 0
    async with httpx.AsyncClient(timeout=10) as client:
        while count is None or sent < count:
            reply = await client.post(url, json=detection_payload(rng, city, catalogue, sent))
            if reply.status_code >= 400:
                print(f"detection refused: {reply.status_code} {reply.text}", file=sys.stderr)
            sent += 1
            with contextlib.suppress(grpc.aio.AioRpcError):
                await driver.step()
            await asyncio.sleep(1.0 / rate)
            if sent % 10 == 0:
                print(f"simulator: {sent} detections posted, {driver.counts}", file=sys.stderr)
        for _ in range(60):  # let the last cases close
            if await driver.step() == 0:
                await asyncio.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulate(Ports.from_env(), args.rate, args.count, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
