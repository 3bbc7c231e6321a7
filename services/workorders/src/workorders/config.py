"""Settings of the workorders service (`CITYOPS_WORKORDERS_*`, shared ones `CITYOPS_*`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class WorkOrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_WORKORDERS_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50053
