"""The composition root: reference data, source configuration, store, NATS,
gRPC, the HTTP ingest and the MQTT telemetry consumer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cityops.detection.v1.detection_service_pb2_grpc import add_DetectionServiceServicer_to_server
from detection.adapters.config_files import load_iot, load_sources
from detection.adapters.migrations import VERSIONS as MIGRATIONS
from detection.config import NAME, DetectionSettings
from detection.domain.iot import IotConfig
from detection.domain.rules import IngestPolicy
from detection.domain.vendors import SourceConfig
from detection.entrypoints.grpc_api import SERVICE_NAME, DetectionServicer
from detection.entrypoints.http_api import create_app
from detection.entrypoints.telemetry_consumer import TelemetryConsumer
from detection.service_layer.retention import purge_expired
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import utcnow
from svckit.http_server import HttpServer
from svckit.periodic import Periodic
from svckit.reference import (
    Catalogue,
    CityMap,
    default_catalogue_path,
    default_city_map_path,
    default_config_dir,
)
from svckit.runtime import ServiceRuntime


class DetectionRuntime(ServiceRuntime[DetectionUnitOfWork]):
    """The runtime plus the ingest server (whose bound port, `http.port`, tests
    need) and the telemetry consumer."""

    http: HttpServer
    telemetry: TelemetryConsumer
    retention: Periodic | None = None


@dataclass(frozen=True)
class Reference:
    """Everything the service judges sources by, loaded and validated at start."""

    policy: IngestPolicy
    sources: SourceConfig
    iot: IotConfig


def load_policy(settings: DetectionSettings) -> IngestPolicy:
    """Reference data is loaded (and validated) before anything connects: a broken
    catalogue or map stops the service at start, not at its first report."""
    return IngestPolicy(
        catalogue=Catalogue.load(default_catalogue_path(settings.config_dir)),
        city=CityMap.load(default_city_map_path(settings.config_dir)),
        max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
    )


def load_reference(settings: DetectionSettings) -> Reference:
    """The policy plus vendor maps, cameras and IoT rules, checked against it."""
    policy = load_policy(settings)
    config_dir = settings.config_dir or default_config_dir()
    return Reference(
        policy=policy,
        sources=load_sources(config_dir, policy.catalogue, policy.city),
        iot=load_iot(config_dir, policy.catalogue, policy.city),
    )


async def bootstrap(settings: DetectionSettings) -> DetectionRuntime:
    ref = load_reference(settings)
    runtime = DetectionRuntime(NAME, settings, DetectionUnitOfWork, migrations=MIGRATIONS)
    await runtime.start_infrastructure()
    runtime.serve_grpc(
        settings.grpc_port,
        [(add_DetectionServiceServicer_to_server, DetectionServicer(runtime.uow), SERVICE_NAME)],
    )
    app = create_app(
        uow=runtime.uow,
        policy=ref.policy,
        max_body_bytes=settings.max_body_bytes,
        sources=ref.sources,
        iot=ref.iot,
    )
    runtime.telemetry = TelemetryConsumer(runtime.js, runtime.uow, ref.policy, ref.iot)
    if settings.mqtt_telemetry:
        runtime.add_component(runtime.telemetry.start, runtime.telemetry.stop)
    runtime.http = HttpServer(app, settings.http_host, settings.http_port)
    runtime.add_component(runtime.http.start, runtime.http.stop)
    if settings.retention_days is not None:
        runtime.retention = retention_sweeper(runtime, settings, settings.retention_days)
        runtime.add_component(runtime.retention.start, runtime.retention.stop)
    return runtime


def retention_sweeper(
    runtime: DetectionRuntime, settings: DetectionSettings, days: int
) -> Periodic:
    async def sweep() -> bool:
        return await purge_expired(
            runtime.uow, now=utcnow(), keep=timedelta(days=days), batch=settings.retention_batch
        )

    return Periodic("detection-retention", sweep, interval_seconds=settings.retention_sweep_seconds)
