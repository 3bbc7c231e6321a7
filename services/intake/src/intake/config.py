"""Intake's settings: the shared ones plus its gRPC port and policy file (CITYOPS_INTAKE_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Built in `main()` (or by tests with keyword arguments), never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_INTAKE_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50051
    # The confidence policy and fusion rules; default <config_dir>/intake/policy.yaml.
    policy_file: Path | None = None
