"""Prometheus metrics every service exposes on its side port (`/metrics`).

One registry per process. svckit records what it sees itself (events in and
out, handler latency, outbox backlog, dead letters, dropped spans, JetStream
consumer lag and redeliveries); services add their own gauges through
`GaugeSampler` (cases by state, overdue orders per department, …).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)

# The *_created series double the output and no dashboard uses them.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

EVENTS_PUBLISHED = Counter(
    "cityops_events_published_total",
    "Integration events published by the outbox relay.",
    ["subject"],
    registry=REGISTRY,
)
EVENTS_CONSUMED = Counter(
    "cityops_events_consumed_total",
    "Events handled by a pull worker, by outcome (ok, duplicate, retry, dead_letter).",
    ["consumer", "subject", "outcome"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "cityops_handler_seconds",
    "Time to handle one event (inside its batch transaction).",
    ["consumer", "subject"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
CONSUMER_BATCH_MESSAGES = Histogram(
    "cityops_consumer_batch_messages",
    "Messages a pull worker fetched and handled together (one transaction when "
    "more than one): every batch pays one fetch, commit and relay read, so "
    "batches of 1 mean each event pays them alone.",
    ["consumer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "cityops_outbox_backlog", "Outbox rows not yet published.", registry=REGISTRY
)
OUTBOX_OLDEST_AGE = Gauge(
    "cityops_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when empty).",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "cityops_dead_letters_total",
    "Messages moved to the dead-letter table.",
    ["consumer", "subject"],
    registry=REGISTRY,
)
DEAD_LETTERS_WAITING = Gauge(
    "cityops_dead_letters_waiting",
    "Dead letters in the service's store, not yet replayed or removed.",
    registry=REGISTRY,
)
CONSUMER_PENDING = Gauge(
    "cityops_consumer_pending_messages",
    "Messages in the stream not yet delivered to the durable consumer (lag).",
    ["consumer", "stream"],
    registry=REGISTRY,
)
CONSUMER_ACK_PENDING = Gauge(
    "cityops_consumer_ack_pending_messages",
    "Messages delivered and not yet acknowledged.",
    ["consumer", "stream"],
    registry=REGISTRY,
)
CONSUMER_REDELIVERED = Gauge(
    "cityops_consumer_redelivered_messages",
    "Messages currently redelivered at least once.",
    ["consumer", "stream"],
    registry=REGISTRY,
)
SPANS_DROPPED = Counter(
    "cityops_spans_dropped_total",
    "Finished spans dropped because the export queue was full.",
    registry=REGISTRY,
)

DEFAULT_PORTS = {
    "detection": 9101,
    "intake": 9102,
    "dispatch": 9103,
    "workorders": 9104,
    "audit": 9105,
    "console": 9106,
}


class MetricsServer:
    """REGISTRY on http://host:port/metrics, in a thread; port 0 picks a free one."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=REGISTRY)
        self.port = int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


Sample = Callable[[], Awaitable[None]]


@dataclass
class GaugeSampler:
    """Runs sampling callbacks (which set gauges) every `interval` seconds."""

    samples: list[Sample] = field(default_factory=list)
    interval: float = 5.0
    _task: asyncio.Task[None] | None = None

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="metrics-sampler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sample_once(self) -> None:
        for sample in self.samples:
            with contextlib.suppress(Exception):
                await sample()

    async def _loop(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self.interval)
