"""The life of a service process: start its parts, run until SIGINT/SIGTERM,
then shut down in the order that loses nothing.

Shutdown: stop fetching → let in-flight batches finish → stop gRPC → flush the
outbox → close NATS → dispose the engine → flush spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db, deadletters, migrations
from svckit.grpc import dead_letters as dead_letters_api
from svckit.grpc.server import GrpcServer, Registration
from svckit.logging import get_logger
from svckit.messaging import jetstream
from svckit.messaging.consumer import Prepare, PullWorker
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import durable_name, stream_for
from svckit.metrics import GaugeSampler, MetricsServer
from svckit.outbox import OutboxRelay
from svckit.settings import ServiceSettings
from svckit.uow import SqlUnitOfWork

log = get_logger(__name__)

U = TypeVar("U", bound=SqlUnitOfWork)


class ServiceRuntime(Generic[U]):
    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        uow_class: Callable[..., U],
        *,
        migrations: Path | None = None,
    ) -> None:
        """`migrations`: the service's Alembic revisions (svckit.migrations);
        None creates missing tables instead (tests and tools without a schema history)."""
        self.name = name
        self._migrations = migrations
        self.settings = settings
        self._uow_class = uow_class
        self.engine: AsyncEngine
        self.nc: Client
        self.js: JetStreamContext
        self.relay: OutboxRelay
        self.workers: list[PullWorker[U]] = []
        self.grpc: GrpcServer | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._extra: list[tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]] = []
        self.stopped = asyncio.Event()
        # Services add their own samples (cases by state, overdue orders, …).
        self.metrics = GaugeSampler()
        self.metrics_server: MetricsServer | None = None

    async def start_infrastructure(self, *, producer: bool = True) -> None:
        """Database (migrated to this code's schema), NATS, own stream, outbox relay."""
        self.engine = db.create_engine(
            self.settings.resolved_database_url(self.name),
            synchronous=self.settings.sqlite_synchronous,
        )
        if self._migrations is None:
            await db.create_tables(self.engine)
        else:
            await migrations.upgrade(self.engine, self.name, self._migrations)
        self.nc = await jetstream.connect(self.settings.nats_url, name=self.name)
        self.js = self.nc.jetstream()
        if producer:
            await jetstream.ensure_stream(
                self.js, stream_for(self.name), replicas=self.settings.stream_replicas
            )
        self.relay = OutboxRelay(self.engine, self.js)
        self.metrics.add(self.relay.sample_backlog)
        self.metrics.add(lambda: deadletters.sample_waiting(self.engine))

    def uow(self) -> U:
        return self._uow_class(self.engine, self.name, on_commit=self.relay.notify)

    async def subscribe(
        self,
        producer: str,
        handler: Callable[[IncomingEvent, U], Awaitable[None]],
        subjects: Sequence[str] | None = None,
        *,
        batch: int = 128,
        prepare: Prepare[U] | None = None,
    ) -> PullWorker[U]:
        """A durable pull worker `<service>-<producer>` on the producer's stream;
        `prepare` preloads a fetched batch's rows (see `consumer.Prepare`)."""
        spec = stream_for(producer)
        await jetstream.ensure_stream(self.js, spec, replicas=self.settings.stream_replicas)
        durable = durable_name(self.name, producer)
        sub = await jetstream.ensure_pull_consumer(
            self.js,
            spec.name,
            durable,
            list(subjects or []),
            ack_wait_seconds=self.settings.ack_wait_seconds,
        )
        worker: PullWorker[U] = PullWorker(
            consumer=durable,
            subscription=sub,
            stream=spec.name,
            uow_factory=self.uow,
            handler=handler,
            batch=batch,
            prepare=prepare,
        )
        self.workers.append(worker)
        self.metrics.add(worker.sample_lag)
        return worker

    def serve_grpc(
        self,
        port: int,
        services: Sequence[Registration],
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> GrpcServer:
        """The service's own APIs, plus the dead-letter API every service serves."""
        ops = dead_letters_api.registration(lambda: self.engine, lambda: self.js)
        self.grpc = GrpcServer(
            self.settings.grpc_host, port, [*services, ops], max_message_bytes=max_message_bytes
        )
        return self.grpc

    def add_component(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        """Something else to run beside the workers (an HTTP server, a timer loop)."""
        self._extra.append((start, stop))

    async def run(self) -> None:
        """Run until a signal (or `request_stop()`), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
            for worker in self.workers:
                self._tasks.append(asyncio.create_task(worker.run(), name=worker.consumer))
            if self.grpc:
                await self.grpc.start()
            if self.settings.metrics_port is not None:
                self.metrics_server = MetricsServer(self.settings.metrics_port)
                log.info("metrics listening", port=self.metrics_server.port)
            await self.metrics.start()
            for start, _ in self._extra:
                await start()
            log.info("service started")
            await self.stopped.wait()
        finally:
            await self.shutdown()

    def request_stop(self) -> None:
        self.stopped.set()

    async def shutdown(self) -> None:
        log.info("service stopping")
        for worker in self.workers:
            worker.stop()
        worker_tasks = [t for t in self._tasks if t.get_name() != "outbox-relay"]
        if worker_tasks:
            await asyncio.wait(worker_tasks, timeout=10)
        await self.metrics.stop()
        if self.metrics_server:
            self.metrics_server.stop()
        for _, stop in reversed(self._extra):
            with contextlib.suppress(Exception):
                await stop()
        if self.grpc:
            await self.grpc.stop(grace=3)
        await self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # close, not drain: every publish and ack above was awaited, and nats-py's
        # drain waits out its full timeout on pull subscriptions.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.close(), timeout=5)
        await self.engine.dispose()
        # Flush, not shut down: the provider belongs to the process (and to the
        # test session when a test runs the service in-process); the SDK shuts
        # it down at exit.
        provider = trace.get_tracer_provider()
        if hasattr(provider, "force_flush"):
            provider.force_flush()
        log.info("service stopped")


def configure_process(name: str, settings: ServiceSettings) -> None:
    """Logging and tracing for a service process; call first in `main()`."""
    from svckit.logging import configure_logging
    from svckit.telemetry import configure_tracing

    configure_logging(name, settings.log_level, settings.log_format)
    configure_tracing(name, otlp_endpoint=settings.otlp_endpoint, span_file=settings.span_file)
