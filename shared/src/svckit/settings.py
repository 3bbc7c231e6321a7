"""Settings read from the environment, one class per service.

Fields every service shares (NATS, data folder, logging, tracing) are read from
`CITYOPS_<FIELD>`; service-specific fields from `CITYOPS_<SERVICE>_<FIELD>`.
Settings are built in `main()`, never at import time, so tests construct them
with keyword arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FromEnvironment = Literal["environment"]
# Default of svckit's connection hooks (gRPC TLS, NATS credentials): read the
# process's CITYOPS_* variables when the connection is made, so every process
# of a deployment is configured the same way without code passing settings.
FROM_ENVIRONMENT: FromEnvironment = "environment"


def _common(name: str, default: object) -> Any:
    # Only the prefixed variable: a bare alias (`log_level`) would also read an
    # unrelated LOG_LEVEL or DATA_DIR from the environment, ahead of CITYOPS_*.
    # Keyword construction uses the field name (populate_by_name).
    return Field(default, validation_alias=AliasChoices(f"CITYOPS_{name.upper()}"))


class ServiceSettings(BaseSettings):
    """What every service needs to start."""

    model_config = SettingsConfigDict(env_prefix="CITYOPS_", populate_by_name=True, extra="ignore")

    nats_url: str = _common("nats_url", "nats://127.0.0.1:4222")
    data_dir: Path = _common("data_dir", Path("var"))
    config_dir: Path | None = _common("config_dir", None)
    log_level: str = _common("log_level", "info")
    log_format: str = _common("log_format", "json")
    # Write finished spans as JSON lines here (tests, offline debugging).
    span_file: Path | None = _common("span_file", None)
    otlp_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    grpc_host: str = _common("grpc_host", "127.0.0.1")
    # 3 on a NATS cluster: every stream is replicated to three nodes (R3).
    stream_replicas: int = _common("stream_replicas", 1)
    # SQLite only: "normal" (survives process kills) or "full" (also power loss; slower commits).
    sqlite_synchronous: Literal["normal", "full"] = _common("sqlite_synchronous", "normal")
    # How long JetStream waits for an ack before redelivering (set on consumer creation).
    ack_wait_seconds: float = _common("ack_wait_seconds", 30.0)
    # --- hardening (docs/security.md); all unset: plaintext gRPC, anonymous NATS ---
    # gRPC mutual TLS: this service's certificate and key, and the CA that signs
    # every peer's. All three or none.
    tls_cert_file: Path | None = _common("tls_cert_file", None)
    tls_key_file: Path | None = _common("tls_key_file", None)
    tls_ca_file: Path | None = _common("tls_ca_file", None)
    # With mTLS on, a plaintext port serving only grpc.health.v1 (kubelet probes
    # cannot present a client certificate).
    grpc_health_port: int | None = _common("grpc_health_port", None)
    # Comma-separated peer services (certificate identities) allowed to assert a
    # person's identity in metadata; empty: any authenticated peer.
    trusted_identity_asserters: str = _common("trusted_identity_asserters", "")
    # NATS user credentials: an NKey seed file, or a .creds file (JWT + seed).
    nats_nkey_seed_file: Path | None = _common("nats_nkey_seed_file", None)
    nats_creds_file: Path | None = _common("nats_creds_file", None)
    # Service-specific below; subclasses set their env prefix and defaults.
    database_url: str = ""
    grpc_port: int = 0
    # Prometheus /metrics side port; None serves no metrics (the stack sets 9101–9106).
    metrics_port: int | None = None

    def resolved_database_url(self, service: str) -> str:
        """SQLite under data_dir unless a URL was given."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{service}.db'}"
