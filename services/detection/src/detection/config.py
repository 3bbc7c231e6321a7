"""Settings of the detection service, read from the environment in `main()`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings

NAME = "detection"


class DetectionSettings(ServiceSettings):
    """Service-specific fields come from `CITYOPS_DETECTION_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_DETECTION_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = Field(50055, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    # 0 picks a free port (tests); the bound port is on `runtime.http.port`.
    http_port: int = Field(8081, ge=0, le=65535)
    # A report is a small JSON document; evidence is referenced, never inlined.
    max_body_bytes: int = Field(1_000_000, gt=0)
    # Device clocks drift; beyond this a "future" observation is a wrong clock or a forgery.
    max_future_skew_seconds: int = Field(300, ge=0)
    # Consume device telemetry that nats-server's MQTT listener puts on `iot.*.telemetry`.
    mqtt_telemetry: bool = True
    # Raw detections are purged this many days after they were received (city
    # policy; docs/security.md). None keeps them forever.
    retention_days: int | None = Field(90, ge=1)
    retention_sweep_seconds: float = Field(3600.0, gt=0)
    retention_batch: int = Field(1000, ge=1)
