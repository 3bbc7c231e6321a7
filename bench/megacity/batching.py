"""How the run's events reached each consumer: in batches or one by one.

Every fetched batch pays one fetch, one transaction (inbox read, commit) and
one relay round for all its messages, so the mean batch says how much of that
fixed cost each event paid. Read from each service's /metrics
(`cityops_consumer_batch_messages`) once the run has settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cityops_tools.devstack import Ports

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
_METRIC = "cityops_consumer_batch_messages"
_HANDLER = "cityops_handler_seconds"


@dataclass(frozen=True)
class Batching:
    consumer: str
    messages: int
    batches: int
    # Batches that held a single message.
    singles: int
    # Seconds spent inside the consumer's handlers (cityops_handler_seconds):
    # with SQLite statements inline this is CPU, apart from the handlers' awaits.
    handler_s: float = 0.0

    @property
    def mean(self) -> float:
        return self.messages / self.batches if self.batches else 0.0


def parse(text: str) -> list[Batching]:
    """Each consumer's figures from one service's Prometheus text."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    singles: dict[str, float] = {}
    handler: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (_METRIC, _HANDLER):
            continue
        for sample in family.samples:
            consumer = sample.labels.get("consumer", "")
            if sample.name == f"{_HANDLER}_sum":
                handler[consumer] = handler.get(consumer, 0.0) + sample.value
            if sample.name == f"{_METRIC}_sum":
                sums[consumer] = sample.value
            elif sample.name == f"{_METRIC}_count":
                counts[consumer] = sample.value
            elif sample.name == f"{_METRIC}_bucket" and sample.labels.get("le") == "1.0":
                singles[consumer] = sample.value
    return [
        Batching(
            name,
            int(sums.get(name, 0)),
            int(counts[name]),
            int(singles.get(name, 0)),
            handler.get(name, 0.0),
        )
        for name in sorted(counts)
    ]


async def scrape(ports: Ports, services: Iterable[str] = SERVICES) -> list[Batching]:
    """Every consumer of the stack; a service without the port is skipped."""
    found: list[Batching] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for service in services:
            port = getattr(ports, f"{service}_metrics")
            try:
                reply = await http.get(f"http://127.0.0.1:{port}/metrics")
            except httpx.HTTPError:
                continue
            if reply.status_code == 200:
                found += parse(reply.text)
    return found


def print_batching(rows: list[Batching]) -> None:
    if not rows:
        print("consumer batches           none reported")
        return
    messages = sum(r.messages for r in rows)
    batches = sum(r.batches for r in rows)
    singles = sum(r.singles for r in rows)
    print(
        f"consumer batches           {messages} events in {batches} batches "
        f"(mean {messages / max(1, batches):.2f}; {singles} held one event)"
    )
    for row in sorted(rows, key=lambda r: -r.messages):
        print(
            f"  {row.consumer:<28} {row.messages:7d} events {row.batches:7d} batches  "
            f"mean {row.mean:6.2f}  single {100 * row.singles / max(1, row.batches):3.0f} %  "
            f"handler {1000 * row.handler_s / max(1, row.messages):5.2f} ms/event"
        )
