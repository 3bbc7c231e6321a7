"""pytest plugin (loaded from the root conftest): real nats-server, a SQLite
database in tmp_path, span capture.

Every server is stopped when its test ends, pass or fail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db
from svckit.messaging import jetstream
from svckit.natsserver import NatsCluster, NatsServer
from svckit.postgres import PostgresCluster

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
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three JetStream nodes clustered on loopback (R3 streams), stopped after the test."""
    nodes = NatsCluster(tmp_path / "cluster")
    nodes.start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[Client]:
    nc = await jetstream.connect(nats_server.url, name="test")
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file in the test's tmp_path (what `sqlite_engine` opens)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `sqlite_url` with every table registered so far created
    (import a service's tables module first); disposed when the test ends."""
    engine = db.create_engine(sqlite_url)
    try:
        await db.create_tables(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the test session, stopped at its end."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("postgres"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh database on the session's cluster."""
    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a database test on both stores the services support."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with every imported table created, on SQLite and on PostgreSQL."""
    engine = db.create_engine(database_url)
    try:
        await db.create_tables(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test, from the process-wide in-memory exporter."""
    _install_test_provider()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()
