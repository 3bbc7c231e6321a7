"""The composition root: reference data, store, NATS, gRPC and the HTTP ingest."""

from __future__ import annotations

from datetime import timedelta

from cityops.detection.v1.detection_service_pb2_grpc import add_DetectionServiceServicer_to_server
from detection.config import NAME, DetectionSettings
from detection.domain.rules import IngestPolicy
from detection.entrypoints.grpc_api import SERVICE_NAME, DetectionServicer
from detection.entrypoints.http_api import create_app
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.http_server import HttpServer
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path
from svckit.runtime import ServiceRuntime


class DetectionRuntime(ServiceRuntime[DetectionUnitOfWork]):
    """The runtime plus the ingest server, whose bound port (`http.port`) tests need."""

    http: HttpServer


def load_policy(settings: DetectionSettings) -> IngestPolicy:
    """Reference data is loaded (and validated) before anything connects: a broken
    catalogue or map stops the service at start, not at its first report."""
    return IngestPolicy(
        catalogue=Catalogue.load(default_catalogue_path(settings.config_dir)),
        city=CityMap.load(default_city_map_path(settings.config_dir)),
        max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
    )


async def bootstrap(settings: DetectionSettings) -> DetectionRuntime:
    policy = load_policy(settings)
    runtime = DetectionRuntime(NAME, settings, DetectionUnitOfWork)
    await runtime.start_infrastructure()
    runtime.serve_grpc(
        settings.grpc_port,
        [(add_DetectionServiceServicer_to_server, DetectionServicer(runtime.uow), SERVICE_NAME)],
    )
    app = create_app(uow=runtime.uow, policy=policy, max_body_bytes=settings.max_body_bytes)
    runtime.http = HttpServer(app, settings.http_host, settings.http_port)
    runtime.add_component(runtime.http.start, runtime.http.stop)
    return runtime
