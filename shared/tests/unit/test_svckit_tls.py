"""Hardening settings without I/O beyond a temporary file: TLS all-or-nothing,
the service a peer certificate names, who may assert a person's identity,
NATS credentials and the private reply space they come with."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from svckit.errors import PermissionDeniedError
from svckit.grpc.identity import (
    ROLE,
    USER,
    Caller,
    check_assertion,
    service_from_auth_context,
)
from svckit.grpc.tls import TlsConfig
from svckit.messaging.auth import NatsAuth, inbox_prefix
from svckit.settings import ServiceSettings


class ExampleSettings(ServiceSettings):
    """A service's settings class: its own prefix, the common fields unprefixed."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_EXAMPLE_", populate_by_name=True, extra="ignore"
    )


def test_nothing_configured_means_plaintext_and_anonymous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for field in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE", "NATS_NKEY_SEED_FILE"):
        monkeypatch.delenv(f"CITYOPS_{field}", raising=False)
    monkeypatch.delenv("CITYOPS_NATS_CREDS_FILE", raising=False)
    settings = ServiceSettings()
    assert TlsConfig.from_settings(settings) is None
    assert NatsAuth.from_settings(settings) is None


def test_tls_settings_are_common_to_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("CITYOPS_TLS_CERT_FILE", "/etc/cityops/tls/tls.crt"),
        ("CITYOPS_TLS_KEY_FILE", "/etc/cityops/tls/tls.key"),
        ("CITYOPS_TLS_CA_FILE", "/etc/cityops/tls/ca.crt"),
        ("CITYOPS_GRPC_HEALTH_PORT", "8090"),
        ("CITYOPS_TRUSTED_IDENTITY_ASSERTERS", "console, ops-cli,"),
    ):
        monkeypatch.setenv(name, value)
    tls = TlsConfig.from_settings(ExampleSettings())
    assert tls == TlsConfig(
        Path("/etc/cityops/tls/tls.crt"),
        Path("/etc/cityops/tls/tls.key"),
        Path("/etc/cityops/tls/ca.crt"),
        health_port=8090,
        trusted_asserters=frozenset({"console", "ops-cli"}),
    )


def test_half_a_tls_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="together"):
        TlsConfig.from_settings(ServiceSettings(tls_cert_file=Path("a.crt")))


def auth(san: list[bytes] | None = None, cn: bytes | None = None) -> dict[str, list[bytes]]:
    context = {"transport_security_type": [b"ssl"]}
    if san is not None:
        context["x509_subject_alternative_name"] = san
    if cn is not None:
        context["x509_common_name"] = [cn]
    return context


def test_the_peer_service_comes_from_the_uri_san_then_the_common_name() -> None:
    uri = auth([b"intake", b"spiffe://cityops/intake", b"127.0.0.1"], b"someone-else")
    assert service_from_auth_context(uri) == "intake"
    assert service_from_auth_context(auth([b"audit.cityops.svc"], b"audit")) == "audit"
    assert service_from_auth_context({"transport_security_type": [b"insecure"]}) is None
    assert service_from_auth_context({}) is None


def metadata(caller: Caller) -> list[tuple[str, str]]:
    return list(caller.metadata())


def test_only_trusted_services_assert_a_person() -> None:
    person = metadata(Caller("op-7", "operator"))
    trusted = {"console"}
    check_assertion("console", person, trusted)
    check_assertion(None, person, trusted)  # plaintext: nothing known to check
    check_assertion("intake", person, set())  # no allow-list: any authenticated peer
    check_assertion("intake", [], trusted)  # nobody asserted
    check_assertion("intake", [(USER, "intake"), (ROLE, "system")], trusted)  # itself
    with pytest.raises(PermissionDeniedError, match="intake"):
        check_assertion("intake", person, trusted)
    with pytest.raises(PermissionDeniedError):
        check_assertion("intake", [(USER, "console"), (ROLE, "system")], trusted)


def test_nats_credentials_come_from_one_existing_file(tmp_path: Path) -> None:
    seed = tmp_path / "intake.nk"
    seed.write_text("SU...\n")
    creds = tmp_path / "intake.creds"
    creds.write_text("jwt and seed\n")
    options = NatsAuth.from_settings(ServiceSettings(nats_nkey_seed_file=seed))
    assert options is not None
    assert options.connect_options("intake") == {
        "inbox_prefix": "_INBOX.intake",
        "nkeys_seed": str(seed),
    }
    by_creds = NatsAuth(creds_file=creds).connect_options("audit")
    assert by_creds == {"inbox_prefix": inbox_prefix("audit"), "user_credentials": str(creds)}
    with pytest.raises(ValueError, match="exactly one"):
        NatsAuth(nkey_seed_file=seed, creds_file=creds)
    with pytest.raises(ValueError, match="does not exist"):
        NatsAuth(nkey_seed_file=tmp_path / "missing.nk")
