"""Intake's settings: the shared ones plus its gRPC port (CITYOPS_INTAKE_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Built in `main()` (or by tests with keyword arguments), never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_INTAKE_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50051
