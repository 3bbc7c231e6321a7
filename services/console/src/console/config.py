"""Console settings: where it listens and which services it reads."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_CONSOLE_", populate_by_name=True, extra="ignore"
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    intake_target: str = "127.0.0.1:50051"
    audit_target: str = "127.0.0.1:50054"
    workorders_target: str = "127.0.0.1:50053"
    dispatch_target: str = "127.0.0.1:50052"
