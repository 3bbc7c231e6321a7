"""Console settings (env prefix CITYOPS_CONSOLE_): where it listens, which
services it calls, and how it protects logins and sessions."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_CONSOLE_", populate_by_name=True, extra="ignore"
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    intake_target: str = "127.0.0.1:50051"
    dispatch_target: str = "127.0.0.1:50052"
    workorders_target: str = "127.0.0.1:50053"
    audit_target: str = "127.0.0.1:50054"
    detection_target: str = "127.0.0.1:50055"
    grpc_deadline_seconds: float = 10.0

    # Sessions. Secure cookies need HTTPS: set true behind TLS (production).
    cookie_secure: bool = False
    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    # Login rate limits: failures per user name / per client address in the window.
    login_failures_per_user: int = 5
    login_failures_per_ip: int = 20
    login_window_minutes: int = 15
    # Take the client address from X-Forwarded-For (only behind a trusted proxy).
    trust_forwarded_for: bool = False

    # Link for a trace id on the auditor's screens, e.g.
    # "http://127.0.0.1:16686/trace/{trace_id}" (Jaeger) or a Tempo explore URL.
    trace_url_template: str = ""
    # Orders with less than this left are "at risk" on the escalation board.
    at_risk_hours: float = 4.0
    case_scan_limit: int = 2000
    # Ed25519 key ids (hex SHA-256) of the audit log keys to trust; empty: audit's own list.
    audit_trusted_key_ids: list[str] = Field(default_factory=list)
    max_upload_mb: int = 10
    sse_heartbeat_seconds: float = 15.0

    # Open311: client name → API key. With require_api_key, POST needs a known key.
    open311_api_keys: dict[str, str] = Field(default_factory=dict)
    open311_require_api_key: bool = False

    # Create the demo users at start-up (idempotent); the password is printed once
    # unless demo_password fixes it (tests, the dev stack).
    seed_demo_users: bool = False
    demo_password: str = ""

    # Where the front-end libraries are installed (npm) and served from.
    frontend_dir: Path | None = None
    static_dir: Path | None = None
