"""Settings of the audit service, read from the environment in `main()`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """Shared fields from `CITYOPS_*`; audit's own from `CITYOPS_AUDIT_*`
    (`CITYOPS_AUDIT_DATABASE_URL`, `CITYOPS_AUDIT_GRPC_PORT`)."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_AUDIT_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50054
