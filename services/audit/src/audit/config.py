"""Settings of the audit service, read from the environment in `main()`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from svckit.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """Shared fields from `CITYOPS_*`; audit's own from `CITYOPS_AUDIT_*`
    (`CITYOPS_AUDIT_DATABASE_URL`, `CITYOPS_AUDIT_GRPC_PORT`, …)."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_AUDIT_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50054
    # Tree heads are signed with this Ed25519 key: a PKCS#8 PEM file, or a
    # base64 32-byte seed. Neither: a development key under data_dir.
    signing_key_file: Path | None = None
    signing_key_seed: SecretStr = SecretStr("")
    # Comma-separated base64 raw public keys of retired signing keys, so heads
    # they signed still verify after a rotation.
    trusted_public_keys: str = ""
    # A tree head is signed every N entries (as they are appended) and every
    # T seconds while the ledger grows.
    tree_head_every_entries: int = 1000
    tree_head_every_seconds: float = 30.0
    # Default: <config_dir>/audit/verification.yaml and evaluation.yaml.
    verification_policy_file: Path | None = None
    evaluation_formula_file: Path | None = None
