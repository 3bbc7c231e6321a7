"""The deployment files are checked here even though no container runs:
NATS configs by nats-server itself, the compose file against the services'
real settings, Prometheus targets against the compose ports, the collector
pipeline against its own components, dashboards against svckit's metrics."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from svckit import metrics
from svckit.natsserver import nats_server_binary
from svckit.settings import ServiceSettings

COMPOSE = Path(__file__).resolve().parents[1] / "compose"
SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
SETTINGS = {
    "detection": "detection.config:DetectionSettings",
    "intake": "intake.config:IntakeSettings",
    "dispatch": "dispatch.config:DispatchSettings",
    "workorders": "workorders.config:WorkOrdersSettings",
    "audit": "audit.config:AuditSettings",
    "console": "console.config:ConsoleSettings",
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def settings_class(service: str) -> type[ServiceSettings]:
    module, name = SETTINGS[service].split(":")
    cls: type[ServiceSettings] = getattr(importlib.import_module(module), name)
    return cls


@pytest.mark.parametrize("node", [1, 2, 3])
def test_nats_cluster_configs_are_valid_for_nats_server(node: int) -> None:
    conf = COMPOSE / "nats" / f"nats-{node}.conf"
    result = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + result.stdout
    text = conf.read_text()
    assert "sync_interval: always" in text and f"server_name: nats-{node}" in text
    assert all(f"nats-route://nats-{i}:6222" in text for i in (1, 2, 3))


def test_compose_runs_every_service_with_settings_it_understands() -> None:
    compose = load(COMPOSE / "docker-compose.yml")
    services = compose["services"]
    assert set(SERVICES) <= set(services)
    common = set(ServiceSettings.model_fields)
    for service in SERVICES:
        fields = set(settings_class(service).model_fields)
        assert services[service]["command"] == ["python", "-m", service]
        for name in services[service]["environment"]:
            if name.startswith(f"CITYOPS_{service.upper()}_"):
                field = name.removeprefix(f"CITYOPS_{service.upper()}_").lower()
                assert field in fields, f"{service}: {name} is not a setting"
            elif name.startswith("CITYOPS_"):
                assert name.removeprefix("CITYOPS_").lower() in common, (
                    f"{service}: {name} is not a setting"
                )
    for node in ("nats-1", "nats-2", "nats-3"):
        assert services[node]["image"].startswith("nats:")
    for volume in ("nats-1", "nats-2", "nats-3", "postgres"):
        assert volume in compose["volumes"]


def test_prometheus_scrapes_each_service_on_its_metrics_port() -> None:
    compose = load(COMPOSE / "docker-compose.yml")["services"]
    prom = load(COMPOSE / "prometheus" / "prometheus.yml")
    targets = {
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    for service in SERVICES:
        port = compose[service]["environment"][f"CITYOPS_{service.upper()}_METRICS_PORT"]
        assert f"{service}:{port}" in targets
        assert int(port) == metrics.DEFAULT_PORTS[service]


def test_collector_pipeline_uses_only_defined_components() -> None:
    config = load(COMPOSE / "otel" / "collector.yaml")
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                assert name in config[kind], f"{kind} {name} is not defined"
    assert "otlp" in config["receivers"]


def test_dashboards_query_metrics_that_exist() -> None:
    exposed = {
        sample.name
        for family in text_string_to_metric_families(
            __import__("prometheus_client").generate_latest(metrics.REGISTRY).decode()
        )
        for sample in family.samples
    }
    families = {f.name for f in metrics.REGISTRY.collect()}
    known = (
        exposed
        | families
        | {f"{name}_bucket" for name in families}
        | {f"{name}_total" for name in families}
    )
    for path in (COMPOSE / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["panels"], path
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                names = {
                    word
                    for word in _identifiers(target["expr"])
                    if word.startswith(("cityops_", "process_"))
                }
                assert names, panel["title"]
                assert names <= known, f"{panel['title']}: unknown {names - known}"
    datasources = load(COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    assert {d["uid"] for d in datasources["datasources"]} >= {"prometheus", "jaeger"}


def _identifiers(expr: str) -> set[str]:
    word, words = "", set()
    for char in expr + " ":
        if char.isalnum() or char == "_":
            word += char
        else:
            if word:
                words.add(word)
            word = ""
    return words
