"""svckit.settings: shared `CITYOPS_*` variables, service-prefixed ones, keywords.

Every test starts from an environment without any variable the settings could read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from svckit import db
from svckit.settings import ServiceSettings

SHARED_NAMES = (
    "NATS_URL",
    "DATA_DIR",
    "CONFIG_DIR",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "SPAN_FILE",
    "GRPC_HOST",
    "OTLP_ENDPOINT",
    "DATABASE_URL",
    "GRPC_PORT",
)


class ExampleSettings(ServiceSettings):
    """A service's settings, declared as the services declare theirs."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_EXAMPLE_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50099
    http_port: int = 8099


class OtherSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_OTHER_", populate_by_name=True, extra="ignore"
    )

    grpc_port: int = 50098


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("CITYOPS_", "OTEL_")) or upper in SHARED_NAMES:
            monkeypatch.delenv(name)


def test_defaults_without_environment() -> None:
    settings = ExampleSettings()
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.data_dir == Path("var")
    assert (settings.config_dir, settings.span_file, settings.otlp_endpoint) == (None, None, None)
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert settings.grpc_host == "127.0.0.1"
    assert (settings.grpc_port, settings.http_port, settings.database_url) == (50099, 8099, "")


def test_a_service_reads_the_shared_variables_under_cityops(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CITYOPS_NATS_URL", "nats://10.0.0.5:4222")
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITYOPS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CITYOPS_LOG_LEVEL", "debug")
    monkeypatch.setenv("CITYOPS_LOG_FORMAT", "console")
    monkeypatch.setenv("CITYOPS_SPAN_FILE", str(tmp_path / "spans.jsonl"))
    monkeypatch.setenv("CITYOPS_GRPC_HOST", "0.0.0.0")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    for settings in (ExampleSettings(), OtherSettings()):
        assert settings.nats_url == "nats://10.0.0.5:4222"
        assert settings.data_dir == tmp_path / "data"
        assert settings.config_dir == tmp_path / "config"
        assert (settings.log_level, settings.log_format) == ("debug", "console")
        assert settings.span_file == tmp_path / "spans.jsonl"
        assert settings.grpc_host == "0.0.0.0"
        assert settings.otlp_endpoint == "http://127.0.0.1:4317"


def test_service_fields_come_only_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_EXAMPLE_GRPC_PORT", "7001")
    monkeypatch.setenv("CITYOPS_EXAMPLE_HTTP_PORT", "7002")
    monkeypatch.setenv("CITYOPS_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u@db/example")
    monkeypatch.setenv("CITYOPS_OTHER_GRPC_PORT", "7101")
    # Service fields under the shared prefix belong to no service:
    monkeypatch.setenv("CITYOPS_GRPC_PORT", "9999")
    monkeypatch.setenv("CITYOPS_DATABASE_URL", "sqlite+aiosqlite:///shared.db")

    example, other = ExampleSettings(), OtherSettings()
    assert (example.grpc_port, example.http_port) == (7001, 7002)
    assert example.database_url == "postgresql+asyncpg://u@db/example"
    assert (other.grpc_port, other.database_url) == (7101, "")


def test_unprefixed_variables_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOG_LEVEL, DATA_DIR, ... belong to other programs; CITYOPS_* alone counts.

    (svckit used to list the bare field name as an alias, so an unrelated
    LOG_LEVEL was read, and even won over CITYOPS_LOG_LEVEL.)
    """
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DATA_DIR", "/elsewhere")
    monkeypatch.setenv("NATS_URL", "nats://elsewhere:4222")
    monkeypatch.setenv("OTLP_ENDPOINT", "http://elsewhere:4317")
    monkeypatch.setenv("GRPC_HOST", "0.0.0.0")
    settings = ExampleSettings()
    assert (settings.log_level, settings.data_dir) == ("info", Path("var"))
    assert (settings.nats_url, settings.otlp_endpoint) == ("nats://127.0.0.1:4222", None)
    assert settings.grpc_host == "127.0.0.1"

    monkeypatch.setenv("CITYOPS_LOG_LEVEL", "warning")
    assert ExampleSettings().log_level == "warning"


def test_keywords_build_settings_and_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CITYOPS_NATS_URL", "nats://from-env:4222")
    monkeypatch.setenv("CITYOPS_EXAMPLE_GRPC_PORT", "7001")
    settings = ExampleSettings(
        nats_url="nats://127.0.0.1:14222",
        data_dir=str(tmp_path),
        grpc_port=0,
        log_level="error",
        otlp_endpoint="http://collector:4317",
        database_url="sqlite+aiosqlite:///:memory:",
        unknown_field="ignored",
    )
    assert settings.nats_url == "nats://127.0.0.1:14222"
    assert settings.data_dir == tmp_path and isinstance(settings.data_dir, Path)
    assert (settings.grpc_port, settings.log_level) == (0, "error")
    assert settings.otlp_endpoint == "http://collector:4317"
    assert settings.database_url == "sqlite+aiosqlite:///:memory:"
    assert not hasattr(settings, "unknown_field")


def test_a_malformed_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_EXAMPLE_GRPC_PORT", "fifty")
    with pytest.raises(ValidationError, match="grpc_port"):
        ExampleSettings()


async def test_resolved_database_url_is_sqlite_under_data_dir_unless_given(
    tmp_path: Path,
) -> None:
    assert ExampleSettings().resolved_database_url("example") == (
        "sqlite+aiosqlite:///var/example.db"
    )
    nested = ExampleSettings(data_dir=tmp_path / "a" / "b")
    url = nested.resolved_database_url("example")
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'example.db'}"
    engine = db.create_engine(url)  # an absolute path: four slashes, folder made
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()
    assert (tmp_path / "a" / "b" / "example.db").is_file()

    given = ExampleSettings(data_dir=tmp_path, database_url="postgresql+asyncpg://u@h/example")
    assert given.resolved_database_url("example") == "postgresql+asyncpg://u@h/example"
