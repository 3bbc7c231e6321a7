"""The composition root: reference data and policy, database, NATS consumers and gRPC."""

from __future__ import annotations

from cityops.intake.v1 import intake_service_pb2_grpc
from intake.adapters import (
    metrics,
    tables,  # noqa: F401  (registers intake's tables before create_all)
)
from intake.adapters.migrations import VERSIONS as MIGRATIONS
from intake.adapters.policy_file import POLICY_FILE, load_policy
from intake.config import IntakeSettings
from intake.domain.filing import Reference
from intake.entrypoints.grpc_api import SERVICE_NAME, IntakeServicer
from intake.entrypoints.subscriptions import subscribe_all
from intake.service_layer import queries
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.reference import (
    Catalogue,
    CityMap,
    default_catalogue_path,
    default_city_map_path,
    default_config_dir,
)
from svckit.runtime import ServiceRuntime

NAME = "intake"


def load_reference(settings: IntakeSettings) -> Reference:
    """Catalogue, city map and intake policy from `config_dir` (default: the repository's
    config/); the policy file may be given on its own (CITYOPS_INTAKE_POLICY_FILE)."""
    catalogue = Catalogue.load(default_catalogue_path(settings.config_dir))
    policy_path = (
        settings.policy_file or (settings.config_dir or default_config_dir()) / POLICY_FILE
    )
    return Reference(
        catalogue=catalogue,
        city_map=CityMap.load(default_city_map_path(settings.config_dir)),
        policy=load_policy(policy_path, {c.code: c for c in catalogue}),
    )


async def bootstrap(settings: IntakeSettings) -> ServiceRuntime[IntakeUnitOfWork]:
    ref = load_reference(settings)
    runtime = ServiceRuntime(NAME, settings, IntakeUnitOfWork, migrations=MIGRATIONS)
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

    async def sample() -> None:
        metrics.show(*await queries.counts(runtime.uow()))

    runtime.metrics.add(sample)
    return runtime
