"""The composition root: reference data, runtime, catalogue, subscriptions, gRPC, timers."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.dispatch.v1.dispatch_service_pb2_grpc import add_DispatchServiceServicer_to_server
from dispatch import NAME
from dispatch.adapters import metrics
from dispatch.adapters.migrations import VERSIONS as MIGRATIONS
from dispatch.adapters.reference_files import load_reference
from dispatch.config import DispatchSettings
from dispatch.domain.clock import Clock, SystemClock
from dispatch.domain.reference import ReferenceData
from dispatch.entrypoints import subscriptions
from dispatch.entrypoints.grpc_api import SERVICE_NAME, DispatchServicer
from dispatch.entrypoints.timer_loop import TimerLoop
from dispatch.service_layer.catalogue import seed_from_file
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.runtime import ServiceRuntime


def load_settings_reference(settings: DispatchSettings) -> ReferenceData:
    """The reference data these settings point at (also used by the command line)."""
    return load_reference(
        settings.config_dir,
        departments_file=settings.departments_file,
        responsibility_file=settings.responsibility_file,
        calendars_dir=settings.calendars_dir,
        teams_file=settings.teams_file,
    )


@dataclass
class DispatchService:
    """The runtime plus what tests and tools may need to look at."""

    runtime: ServiceRuntime[DispatchUnitOfWork]
    context: DispatchContext
    timers: TimerLoop


async def build(settings: DispatchSettings, *, clock: Clock | None = None) -> DispatchService:
    """A ready-to-run dispatch service; every file is validated before anything connects.

    ``clock`` replaces the system clock for decisions, deadlines and
    escalations (tests run a working day in seconds with a simulated one).
    """
    reference = load_settings_reference(settings)
    reference.matrix  # noqa: B018 (validates the responsibility file on its own)
    ctx = DispatchContext(
        reference=reference,
        clock=clock or SystemClock(),
        policy=settings.escalation_policy(),
        max_returns=settings.max_returns,
    )
    runtime = ServiceRuntime(NAME, settings, DispatchUnitOfWork, migrations=MIGRATIONS)
    await runtime.start_infrastructure()
    runtime.metrics.add(lambda: metrics.sample_overdue(runtime.engine))
    await seed_from_file(runtime.uow(), ctx)
    await subscriptions.subscribe(runtime, ctx)
    runtime.serve_grpc(
        settings.grpc_port,
        [(add_DispatchServiceServicer_to_server, DispatchServicer(runtime.uow, ctx), SERVICE_NAME)],
    )
    timers = TimerLoop(
        runtime.uow, ctx, interval=settings.timer_poll_seconds, batch=settings.timer_batch
    )
    runtime.add_component(timers.start, timers.stop)
    return DispatchService(runtime=runtime, context=ctx, timers=timers)


async def bootstrap(
    settings: DispatchSettings, *, clock: Clock | None = None
) -> ServiceRuntime[DispatchUnitOfWork]:
    """The runtime alone, as every service's bootstrap returns it."""
    return (await build(settings, clock=clock)).runtime
