"""The composition root: the one place that wires workorders together."""

from __future__ import annotations

import functools
from datetime import timedelta
from zoneinfo import ZoneInfo

from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.calendars import load_department_calendars
from svckit.logging import get_logger
from svckit.reference import Catalogue, default_catalogue_path, default_config_dir
from svckit.runtime import ServiceRuntime
from workorders.adapters.exif import read_photo_metadata
from workorders.adapters.migrations import VERSIONS as MIGRATIONS
from workorders.adapters.object_store import NatsEvidenceStore
from workorders.adapters.webhook_config import WEBHOOKS_FILE, load_webhooks
from workorders.adapters.webhook_sender import HttpWebhookSender
from workorders.config import WorkOrdersSettings
from workorders.entrypoints.grpc_api import SERVICE_NAME, WorkOrdersServicer
from workorders.entrypoints.subscriptions import subscriptions
from workorders.service_layer.notifications import DeliveryLoop
from workorders.service_layer.ports import EvidenceRules, Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

NAME = "workorders"
log = get_logger(__name__)


async def bootstrap(settings: WorkOrdersSettings) -> ServiceRuntime[WorkOrdersUnitOfWork]:
    """Database, NATS, the WORKORDERS stream, the evidence bucket, consumers,
    the gRPC server and the webhook delivery loop, not yet running.

    Reference data (catalogue, working-time calendars, webhooks file) is read
    first: a broken file stops the service at start, not at its first order.
    """
    config_dir = settings.config_dir or default_config_dir()
    catalogue = Catalogue.load(default_catalogue_path(config_dir))
    calendars = load_department_calendars(config_dir)
    notifier = Notifier(load_webhooks(settings.webhooks_file or config_dir / WEBHOOKS_FILE))
    zone = ZoneInfo(settings.evidence_exif_timezone)

    runtime = ServiceRuntime(NAME, settings, WorkOrdersUnitOfWork, migrations=MIGRATIONS)
    await runtime.start_infrastructure()
    store = await NatsEvidenceStore.open(
        runtime.js, settings.evidence_bucket, replicas=settings.stream_replicas
    )
    evidence_rules = EvidenceRules(
        store=store,
        policy=settings.evidence_policy(),
        read_metadata=functools.partial(read_photo_metadata, default_zone=zone),
        catalogue=catalogue,
        require_uploaded_evidence=settings.require_uploaded_evidence,
    )
    for sub in subscriptions(notifier):
        await runtime.subscribe(sub.producer, sub.handler, sub.subjects)
    runtime.serve_grpc(
        settings.grpc_port,
        [
            (
                api_grpc.add_WorkOrdersServiceServicer_to_server,
                WorkOrdersServicer(runtime.uow, evidence_rules, calendars),
                SERVICE_NAME,
            )
        ],
    )
    sender = HttpWebhookSender(settings.webhook_timeout_seconds)
    deliveries = DeliveryLoop(
        runtime.uow,
        sender,
        notifier,
        settings.retry_policy(),
        poll_seconds=settings.webhook_poll_seconds,
        # Longer than any post can take, so a delivery is only re-sent after a crash.
        lease=timedelta(seconds=max(3 * settings.webhook_timeout_seconds, 30.0)),
    )

    async def stop_deliveries() -> None:
        await deliveries.stop()
        await sender.close()

    runtime.add_component(deliveries.start, stop_deliveries)
    log.info(
        "workorders configured",
        webhook_departments=sorted(notifier.webhooks.endpoints),
        require_uploaded_evidence=settings.require_uploaded_evidence,
    )
    return runtime
