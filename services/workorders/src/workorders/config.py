"""Settings of the workorders service (`CITYOPS_WORKORDERS_*`, shared ones `CITYOPS_*`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings
from workorders.domain.evidence import EvidencePolicy
from workorders.domain.notifications import RetryPolicy

MIB = 1024 * 1024


class WorkOrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_WORKORDERS_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50053

    # --- evidence -----------------------------------------------------------------
    evidence_bucket: str = "cityops-evidence"
    # Note: the gRPC server's default message limit (4 MiB) caps uploads below this
    # until svckit lets a service raise grpc.max_receive_message_length.
    evidence_max_bytes: int = 10 * MIB
    evidence_media_types: tuple[str, ...] = ("image/jpeg", "image/png", "application/pdf")
    # A photo's EXIF GPS farther than this from the case's point is flagged.
    evidence_max_distance_m: float = 500.0
    # A photo taken earlier than the order's creation minus this is flagged.
    evidence_slack_before_hours: float = 24.0
    # … or later than now plus this (cameras' clocks drift).
    evidence_clock_skew_minutes: float = 10.0
    # The zone of EXIF times that carry no OffsetTimeOriginal (the city's).
    evidence_exif_timezone: str = "Asia/Shanghai"
    # False (until the LoopDriver uploads photos): an external evidence ref on
    # CompleteWorkOrder stands in for the uploads the catalogue requires.
    require_uploaded_evidence: bool = False

    # --- department webhooks ----------------------------------------------------------
    # Default: <config_dir>/workorders/webhooks.yaml (absent: no webhooks).
    webhooks_file: Path | None = None
    webhook_poll_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_max_attempts: int = 15

    def evidence_policy(self) -> EvidencePolicy:
        return EvidencePolicy(
            media_types=frozenset(self.evidence_media_types),
            max_bytes=self.evidence_max_bytes,
            max_distance_m=self.evidence_max_distance_m,
            slack_before=timedelta(hours=self.evidence_slack_before_hours),
            clock_skew=timedelta(minutes=self.evidence_clock_skew_minutes),
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.webhook_backoff_base_seconds),
            cap=timedelta(seconds=self.webhook_backoff_max_seconds),
            max_attempts=self.webhook_max_attempts,
        )
