"""pytest plugin (loaded from the root conftest): real nats-server, span capture.

Every server is stopped when its test ends, pass or fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from svckit.messaging import jetstream
from svckit.natsserver import NatsServer

_EXPORTER = InMemorySpanExporter()


def _install_test_provider() -> None:
    """One provider for the whole test process (OTel allows setting it once)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream", log_file=tmp_path / "nats-server.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[Client]:
    nc = await jetstream.connect(nats_server.url, name="test")
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test, from the process-wide in-memory exporter."""
    _install_test_provider()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()
