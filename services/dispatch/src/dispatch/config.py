"""Dispatch settings: the shared ``CITYOPS_*`` fields plus ``CITYOPS_DISPATCH_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    """Built in ``main()`` (never at import time); tests pass keyword arguments."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_DISPATCH_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50052
    # Reference files; unset means config/dispatch/*.yaml under the config directory.
    departments_file: Path | None = None
    responsibility_file: Path | None = None
