"""Intake is SIGKILLed while detections pour in: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime

import httpx

from cityops_tools.devstack import Stack
from cityops_tools.loop import detection_payload
from e2e.helpers import all_cases, eventually
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path

DETECTIONS = 200


async def test_intake_killed_mid_stream_loses_and_duplicates_nothing(stack: Stack) -> None:
    rng = random.Random(2026)
    city = CityMap.load(default_city_map_path())
    catalogue = Catalogue.load(default_catalogue_path())
    url = f"http://127.0.0.1:{stack.ports.detection_http}/ingest/detections"
    accepted: list[str] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(DETECTIONS):
            if i == DETECTIONS // 3:
                await asyncio.to_thread(stack.kill, "intake")
            if i == 2 * DETECTIONS // 3:
                await asyncio.to_thread(stack.restart, "intake")
            body = detection_payload(rng, city, catalogue, i)
            body["observed_at"] = datetime.now(UTC).isoformat()
            reply = await http.post(url, json=body)
            assert reply.status_code == 202, reply.text
            accepted.append(reply.json()["detection_id"])

    async def settled() -> Counter[str] | None:
        linked = Counter(d for case in await all_cases(stack) for d in case.detection_ids)
        return linked if set(accepted) <= set(linked) else None

    linked = await eventually(settled, timeout=120)
    assert len(accepted) == DETECTIONS
    duplicates = {d: n for d, n in linked.items() if n > 1}
    assert duplicates == {}
    assert set(linked) == set(accepted)
