"""`config/workorders/webhooks.yaml`: which department gets webhooks, where,
signed with which secret. Validated whole at start, so a typo stops the
service instead of silently dropping a department's notifications.

Secrets belong in the environment (`secret_env` names the variable); an
inline `secret` is for local development and tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from workorders.domain.notifications import WebhookDirectory, WebhookEndpoint

WEBHOOKS_FILE = Path("workorders") / "webhooks.yaml"
MIN_SECRET_CHARS = 16


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    secret: str = ""
    secret_env: str = ""
    enabled: bool = True

    @model_validator(mode="after")
    def _one_secret(self) -> _Entry:
        if bool(self.secret) == bool(self.secret_env):
            raise ValueError("give exactly one of secret and secret_env")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    departments: dict[str, _Entry] = Field(default_factory=dict)


class WebhookConfigError(ValueError):
    """The webhooks file (or a secret it names) is unusable."""


def load_webhooks(path: Path, environ: Mapping[str, str] | None = None) -> WebhookDirectory:
    """The directory from `path`; an absent file means no department has webhooks."""
    if not path.exists():
        return WebhookDirectory({})
    env = os.environ if environ is None else environ
    try:
        document = _File.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise WebhookConfigError(f"invalid webhooks file {path}: {exc}") from exc
    endpoints: dict[str, WebhookEndpoint] = {}
    for department_id, entry in document.departments.items():
        if not entry.enabled:
            continue
        secret = entry.secret or env.get(entry.secret_env, "")
        if len(secret) < MIN_SECRET_CHARS:
            where = f"${entry.secret_env}" if entry.secret_env else "secret"
            raise WebhookConfigError(
                f"{path}: {department_id}: {where} must hold at least {MIN_SECRET_CHARS} characters"
            )
        endpoints[department_id] = WebhookEndpoint(department_id, str(entry.url), secret)
    return WebhookDirectory(endpoints)
