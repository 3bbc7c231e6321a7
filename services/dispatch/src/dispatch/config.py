"""Dispatch settings: the shared ``CITYOPS_*`` fields plus ``CITYOPS_DISPATCH_*``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dispatch.domain.escalation import EscalationPolicy
from svckit.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    """Built in ``main()`` (never at import time); tests pass keyword arguments."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_DISPATCH_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50052
    # Reference files; unset means config/dispatch/... under the config directory.
    departments_file: Path | None = None
    responsibility_file: Path | None = None
    calendars_dir: Path | None = None
    teams_file: Path | None = None
    # Returns (退单) of a case's lead before it goes to arbitration.
    max_returns: int = Field(3, ge=1)
    # 督办: warn at this share of a stage's working time, then breach at the
    # deadline and again every `escalation_repeat_hours` working hours up to
    # `escalation_max_level`.
    escalation_warning_share: float = Field(0.75, gt=0, lt=1)
    escalation_repeat_hours: float = Field(4.0, gt=0)
    escalation_max_level: int = Field(3, ge=1)
    # How often the timer loop looks for due timers (real seconds), and how many per pass.
    timer_poll_seconds: float = Field(1.0, gt=0)
    timer_batch: int = Field(100, ge=1)

    def escalation_policy(self) -> EscalationPolicy:
        return EscalationPolicy(
            warning_share=self.escalation_warning_share,
            repeat_every=timedelta(seconds=round(self.escalation_repeat_hours * 3600)),
            max_level=self.escalation_max_level,
        )
