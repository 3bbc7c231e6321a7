"""The composition root: reference data, runtime, subscriptions and gRPC in one place."""

from __future__ import annotations

from cityops.dispatch.v1.dispatch_service_pb2_grpc import add_DispatchServiceServicer_to_server
from dispatch import NAME
from dispatch.adapters.reference_files import load_reference
from dispatch.config import DispatchSettings
from dispatch.domain.reference import ReferenceData
from dispatch.entrypoints import subscriptions
from dispatch.entrypoints.grpc_api import SERVICE_NAME, DispatchServicer
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.runtime import ServiceRuntime


def load_settings_reference(settings: DispatchSettings) -> ReferenceData:
    """The reference data these settings point at (also used by the command line)."""
    return load_reference(
        settings.config_dir,
        departments_file=settings.departments_file,
        responsibility_file=settings.responsibility_file,
    )


async def bootstrap(settings: DispatchSettings) -> ServiceRuntime[DispatchUnitOfWork]:
    """A ready-to-run dispatch service; reference data is validated before anything connects."""
    reference = load_settings_reference(settings)
    runtime = ServiceRuntime(NAME, settings, DispatchUnitOfWork)
    await runtime.start_infrastructure()
    await subscriptions.subscribe(runtime, reference)
    runtime.serve_grpc(
        settings.grpc_port,
        [
            (
                add_DispatchServiceServicer_to_server,
                DispatchServicer(runtime.uow, reference),
                SERVICE_NAME,
            )
        ],
    )
    return runtime
