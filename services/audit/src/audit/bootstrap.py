"""The one composition root: settings in, a ready-to-run ServiceRuntime out."""

from __future__ import annotations

from audit.adapters.integration_events import CategoryName, EventTranslator
from audit.config import AuditSettings
from audit.entrypoints.grpc_api import SERVICE_NAME, AuditServicer
from audit.entrypoints.subscriptions import subscribe_all
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2_grpc as api_grpc
from svckit.logging import get_logger
from svckit.reference import Catalogue, default_catalogue_path
from svckit.runtime import ServiceRuntime

NAME = "audit"
log = get_logger(__name__)


async def bootstrap(settings: AuditSettings) -> ServiceRuntime[AuditUnitOfWork]:
    """Database, NATS and the AUDIT stream; a consumer on every stream; gRPC."""
    runtime = ServiceRuntime(NAME, settings, AuditUnitOfWork)
    await runtime.start_infrastructure()
    await subscribe_all(runtime, EventTranslator(category_names(settings)))
    runtime.serve_grpc(
        settings.grpc_port,
        [(api_grpc.add_AuditServiceServicer_to_server, AuditServicer(runtime.uow), SERVICE_NAME)],
    )
    return runtime


def category_names(settings: AuditSettings) -> CategoryName | None:
    """小类 names for ledger summaries; without a catalogue summaries show codes only.

    A missing catalogue only makes summaries terser, so it is a warning; an
    invalid one is a deployment error and stops the service.
    """
    try:
        catalogue = Catalogue.load(default_catalogue_path(settings.config_dir))
    except FileNotFoundError as exc:
        log.warning("no catalogue; ledger summaries will show codes only", error=str(exc))
        return None

    def name(code: str) -> str:
        category = catalogue.find(code)
        return category.name_zh if category else ""

    return name
