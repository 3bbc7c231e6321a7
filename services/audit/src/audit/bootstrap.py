"""The one composition root: settings in, a ready-to-run ServiceRuntime out."""

from __future__ import annotations

from pathlib import Path

from audit.adapters.integration_events import CategoryName, EventTranslator
from audit.adapters.migrations import VERSIONS as MIGRATIONS
from audit.adapters.policy_files import (
    EVALUATION_FILE,
    VERIFICATION_FILE,
    load_formula,
    load_verification_policy,
)
from audit.adapters.schema import check_schema
from audit.adapters.signing import TrustedKeys, load_signer, parse_public_keys
from audit.config import AuditSettings
from audit.domain.tree_head import TreeHeadPolicy
from audit.entrypoints.grpc_api import SERVICE_NAME, AuditServicer
from audit.entrypoints.subscriptions import subscribe_all
from audit.entrypoints.tree_head_timer import TreeHeadTimer
from audit.service_layer.context import AuditContext
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2_grpc as api_grpc
from svckit.logging import get_logger
from svckit.reference import Catalogue, default_catalogue_path, default_config_dir
from svckit.runtime import ServiceRuntime

NAME = "audit"
log = get_logger(__name__)


async def bootstrap(settings: AuditSettings) -> ServiceRuntime[AuditUnitOfWork]:
    """Database, NATS and the AUDIT stream; a consumer on every stream; gRPC;
    the tree-head timer."""
    ctx = build_context(settings)
    runtime = ServiceRuntime(NAME, settings, AuditUnitOfWork, migrations=MIGRATIONS)
    await runtime.start_infrastructure()
    await check_schema(runtime.engine)
    await subscribe_all(runtime, ctx)
    runtime.serve_grpc(
        settings.grpc_port,
        [
            (
                api_grpc.add_AuditServiceServicer_to_server,
                AuditServicer(runtime.uow, ctx),
                SERVICE_NAME,
            )
        ],
    )
    timer = TreeHeadTimer(runtime.uow, ctx.signer, settings.tree_head_every_seconds)
    runtime.add_component(timer.start, timer.stop)
    return runtime


def build_context(settings: AuditSettings) -> AuditContext:
    """Keys and published policies; a bad key or policy file stops the start."""
    signer = load_signer(
        settings.signing_key_file,
        settings.signing_key_seed.get_secret_value(),
        settings.data_dir,
    )
    trusted = TrustedKeys([signer.public_key, *parse_public_keys(settings.trusted_public_keys)])
    policy = load_verification_policy(
        settings.verification_policy_file or _config(settings) / VERIFICATION_FILE
    )
    formula = load_formula(settings.evaluation_formula_file or _config(settings) / EVALUATION_FILE)
    log.info(
        "audit policies loaded",
        verification_policy=policy.version,
        evaluation_formula=formula.version,
        key_id=signer.key_id,
    )
    return AuditContext(
        signer=signer,
        trusted=trusted,
        formula=formula,
        translator=EventTranslator(category_names(settings)),
        tree_heads=TreeHeadPolicy(
            settings.tree_head_every_entries, settings.tree_head_every_seconds
        ),
        verification_policy=policy,
    )


def _config(settings: AuditSettings) -> Path:
    return settings.config_dir or default_config_dir()


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
