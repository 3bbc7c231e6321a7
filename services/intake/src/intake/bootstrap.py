"""The composition root: reference data, database, NATS consumers and gRPC."""

from __future__ import annotations

from cityops.intake.v1 import intake_service_pb2_grpc
from intake.adapters import tables  # noqa: F401  (registers intake's tables before create_all)
from intake.config import IntakeSettings
from intake.domain.filing import Reference
from intake.entrypoints.grpc_api import SERVICE_NAME, IntakeServicer
from intake.entrypoints.subscriptions import subscribe_all
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.reference import (
    Catalogue,
    CityMap,
    default_catalogue_path,
    default_city_map_path,
)
from svckit.runtime import ServiceRuntime

NAME = "intake"


def load_reference(settings: IntakeSettings) -> Reference:
    """The catalogue and city map from `config_dir` (default: the repository's config/)."""
    return Reference(
        catalogue=Catalogue.load(default_catalogue_path(settings.config_dir)),
        city_map=CityMap.load(default_city_map_path(settings.config_dir)),
    )


async def bootstrap(settings: IntakeSettings) -> ServiceRuntime[IntakeUnitOfWork]:
    ref = load_reference(settings)
    runtime = ServiceRuntime(NAME, settings, IntakeUnitOfWork)
    await runtime.start_infrastructure()
    await subscribe_all(runtime, ref)
    runtime.serve_grpc(
        settings.grpc_port,
        [
            (
                intake_service_pb2_grpc.add_IntakeServiceServicer_to_server,
                IntakeServicer(runtime.uow, ref),
                SERVICE_NAME,
            )
        ],
    )
    return runtime
