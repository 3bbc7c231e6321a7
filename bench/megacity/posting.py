"""Posting the day's reports to detection ingest, one by one or in batches.

One report per request is how a single camera or a citizen app talks to the
city; a video-analytics platform, an IoT gateway or a drone ground station
forwards what it has in hand as one CloudEvents batch
(`application/cloudevents-batch+json`), which detection commits in one
transaction. `--batch 1` posts the generic `POST /ingest/detections`; a larger
value lets each client take up to that many released reports per request (at a
low rate a batch holds one or two, so batching adds no wait).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from bench.megacity.day import Report

CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
EVENT_TYPE = "org.cityops.detection.v1"
_ATTRIBUTES = ("source_id", "source_event_id", "observed_at")


def cloudevent(body: dict[str, Any]) -> dict[str, Any]:
    """The generic ingest body as a structured CloudEvent: its source and event
    id become the event's `source` and `id`, the rest its data."""
    return {
        "specversion": "1.0",
        "id": body["source_event_id"],
        "source": body["source_id"],
        "type": EVENT_TYPE,
        "time": body["observed_at"],
        "data": {k: v for k, v in body.items() if k not in _ATTRIBUTES},
    }


class Poster:
    """Counts what ingest answered; `accepted(detection_id)` is called per 202."""

    def __init__(self, base_url: str, batch: int, accepted: Callable[[str], None]) -> None:
        self.batch = max(1, batch)
        self.url = (
            f"{base_url}/ingest/detections"
            if self.batch == 1
            else (f"{base_url}/ingest/cloudevents")
        )
        self._accepted = accepted
        self.refused = 0
        self.failed = 0
        self.requests = 0

    async def post(self, http: httpx.AsyncClient, reports: list[Report]) -> None:
        self.requests += 1
        try:
            if self.batch == 1:
                reply = await http.post(self.url, json=reports[0].body)
            else:
                reply = await http.post(
                    self.url,
                    json=[cloudevent(r.body) for r in reports],
                    headers={"content-type": CLOUDEVENTS_BATCH},
                )
        except httpx.HTTPError:
            self.failed += len(reports)
            return
        if self.batch == 1:
            if reply.status_code == 202:
                self._accepted(reply.json()["detection_id"])
            else:
                self.refused += 1
            return
        if reply.status_code != 200:
            self.refused += len(reports)
            return
        for item in reply.json()["results"]:
            if item["status"] == 202:
                for detection in item["outcome"]["detections"]:
                    self._accepted(detection["detection_id"])
            else:
                self.refused += 1


async def take(queue: asyncio.Queue[Report | None], most: int) -> list[Report] | None:
    """Wait for one report, then take what else is already released (up to
    `most`); None when the day is over."""
    first = await queue.get()
    if first is None:
        queue.put_nowait(None)  # the one end mark stays for the other clients
        return None
    taken = [first]
    while len(taken) < most and not queue.empty():
        nxt = queue.get_nowait()
        if nxt is None:
            queue.put_nowait(None)  # the end mark stays for the next take
            break
        taken.append(nxt)
    return taken
