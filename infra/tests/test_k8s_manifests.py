"""The Kubernetes manifests, checked offline: every document against the
Kubernetes schemas (kubernetes-validate, strict, fixed version), and against
the code they run: probes on ports the container declares, env names that are
real settings of that service, ports that match the settings, console targets
that are real Services, Secrets referenced but never stored."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from svckit import metrics
from svckit.settings import ServiceSettings

K8S = Path(__file__).resolve().parents[1] / "k8s"
DOCS = Path(__file__).resolve().parents[2] / "docs"
KUBERNETES_VERSION = "1.31"
SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
SETTINGS = {
    "detection": "detection.config:DetectionSettings",
    "intake": "intake.config:IntakeSettings",
    "dispatch": "dispatch.config:DispatchSettings",
    "workorders": "workorders.config:WorkOrdersSettings",
    "audit": "audit.config:AuditSettings",
    "console": "console.config:ConsoleSettings",
}
# Measured peak RSS per service process is 91-126 MiB (docs/performance.md).
MEASURED_RSS_MIB = 130
NOT_SETTINGS = {"OTEL_EXPORTER_OTLP_ENDPOINT", "PYTHONDONTWRITEBYTECODE"}


@functools.cache
def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


@functools.cache
def documents() -> tuple[dict[str, Any], ...]:
    """Parsed once per session (tests read, never change them)."""
    return tuple(
        doc
        for name in kustomization()["resources"]
        for doc in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8"))
        if doc
    )


def find(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} documents"
    return found[0]


def container(service: str) -> dict[str, Any]:
    spec = find("Deployment", service)["spec"]["template"]["spec"]
    [only] = spec["containers"]
    assert only["name"] == service
    return dict(only)


def common_config() -> dict[str, str]:
    data: dict[str, str] = find("ConfigMap", "cityops-common")["data"]
    return data


def env(service: str) -> dict[str, Any]:
    """Name → value (or valueFrom) as the container sees it, ConfigMap included."""
    values: dict[str, Any] = dict(common_config())
    for item in container(service)["env"]:
        values[item["name"]] = item.get("value", item.get("valueFrom"))
    return values


def settings_class(service: str) -> type[ServiceSettings]:
    module, name = SETTINGS[service].split(":")
    cls: type[ServiceSettings] = getattr(importlib.import_module(module), name)
    return cls


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization()["namespace"] == "cityops"


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_document_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    if doc["kind"] != "Namespace":
        assert doc["metadata"]["namespace"] == "cityops"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_deployment_service_autoscaler_and_budget(service: str) -> None:
    deployment = find("Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selects = deployment["spec"]["selector"]["matchLabels"]
    assert selects.items() <= pod_labels.items()
    svc = find("Service", service)
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    named_ports = {p["name"] for p in container(service)["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= named_ports
    hpa = find("HorizontalPodAutoscaler", service)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    pdb = find("PodDisruptionBudget", service)["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["minAvailable"] < hpa["minReplicas"]  # a drain can always proceed


@pytest.mark.parametrize("service", SERVICES)
def test_probes_ask_ports_the_container_declares(service: str) -> None:
    spec = container(service)
    ports = {p["containerPort"] for p in spec["ports"]} | {p["name"] for p in spec["ports"]}
    http = env(service).get(f"CITYOPS_{service.upper()}_HTTP_PORT")
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = spec[kind]
        if "grpc" in probe:
            # Health alone in plaintext: kubelet probes present no client certificate.
            assert probe["grpc"]["port"] == int(common_config()["CITYOPS_GRPC_HEALTH_PORT"])
            assert probe["grpc"]["port"] in ports
        else:
            assert probe["httpGet"]["path"] == "/healthz"
            assert probe["httpGet"]["port"] in ports and str(probe["httpGet"]["port"]) == http
    if service in ("console", "detection"):
        assert spec["readinessProbe"]["httpGet"]["path"] == "/healthz"
    else:
        assert all("grpc" in spec[k] for k in ("readinessProbe", "livenessProbe"))


@pytest.mark.parametrize("service", SERVICES)
def test_env_names_are_settings_of_the_service(service: str) -> None:
    fields = set(settings_class(service).model_fields)
    common = set(ServiceSettings.model_fields)
    for name in env(service):
        if name.startswith(f"CITYOPS_{service.upper()}_"):
            field = name.removeprefix(f"CITYOPS_{service.upper()}_").lower()
            assert field in fields, f"{service}: {name} is not a setting"
        elif name.startswith("CITYOPS_"):
            assert name.removeprefix("CITYOPS_").lower() in common, f"{name} is not a setting"
        else:
            assert name in NOT_SETTINGS, name


@pytest.mark.parametrize("service", SERVICES)
def test_ports_agree_with_the_settings_and_the_metrics_defaults(service: str) -> None:
    values = env(service)
    declared = {p["name"]: p["containerPort"] for p in container(service)["ports"]}
    prefix = f"CITYOPS_{service.upper()}_"
    assert int(values[f"{prefix}METRICS_PORT"]) == declared["metrics"]
    assert declared["metrics"] == metrics.DEFAULT_PORTS[service]
    if "grpc" in declared:
        assert int(values[f"{prefix}GRPC_PORT"]) == declared["grpc"]
        assert declared["health"] == int(values["CITYOPS_GRPC_HEALTH_PORT"])
        assert values["CITYOPS_GRPC_HOST"] == "0.0.0.0"
    if "http" in declared:
        assert int(values[f"{prefix}HTTP_PORT"]) == declared["http"]
        assert values[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    settings = settings_class(service)(**_keywords(service, values))
    assert settings.stream_replicas == 3


def _keywords(service: str, values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as keyword arguments, to let the settings class parse them."""
    prefix = f"CITYOPS_{service.upper()}_"
    out: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(value, str) or name in NOT_SETTINGS:
            continue
        key = (
            name.removeprefix(prefix) if name.startswith(prefix) else name.removeprefix("CITYOPS_")
        )
        out[key.lower()] = value
    return out


def test_the_console_calls_each_service_on_its_service_port() -> None:
    values = env("console")
    for service in SERVICES:
        target = values.get(f"CITYOPS_CONSOLE_{service.upper()}_TARGET")
        if service == "console":
            continue
        assert target, service
        host, port = target.split(":")
        svc = find("Service", host)
        assert int(port) in {p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc"}


@pytest.mark.parametrize("service", SERVICES)
def test_pods_are_locked_down(service: str) -> None:
    pod = find("Deployment", service)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    spec = container(service)
    security = spec["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    resources = spec["resources"]
    assert _mib(resources["requests"]["memory"]) >= MEASURED_RSS_MIB
    assert _mib(resources["limits"]["memory"]) >= 2 * MEASURED_RSS_MIB
    assert resources["requests"]["cpu"] and resources["limits"]["cpu"]
    # Writable places exist where the process writes (data dir, temp files).
    mounts = {m["mountPath"] for m in spec["volumeMounts"]}
    assert {common_config()["CITYOPS_DATA_DIR"], "/tmp"} <= mounts


def _mib(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


@pytest.mark.parametrize("service", SERVICES)
def test_credential_files_are_mounted_from_the_services_own_secrets(service: str) -> None:
    values = env(service)
    spec = container(service)
    pod = find("Deployment", service)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
    for name, value in values.items():
        if not (name.endswith("_FILE") and isinstance(value, str)):
            continue
        path = Path(value)
        volume = volumes[mounts[str(path.parent)]]
        secret = volume["secret"]
        assert path.name in {item["path"] for item in secret["items"]}, name
        assert secret["defaultMode"] & 0o007 == 0, f"{name} is world-readable"
        if "TLS" in name or "NATS" in name:
            assert secret["secretName"].endswith(f"-{service}"), "one credential per service"


def test_no_secret_is_stored_in_the_repository() -> None:
    assert not [d for d in documents() if d["kind"] == "Secret"]
    text = "\n".join(p.read_text() for p in K8S.rglob("*.yaml")).lower()
    for telltale in ("password:", "-----begin", "postgresql://", "postgresql+asyncpg://"):
        assert telltale not in text, telltale


def referenced_secrets() -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> Iterator[None]:
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                names.add(node["secretKeyRef"]["name"])
            if "secret" in node and "secretName" in node["secret"]:
                names.add(node["secret"]["secretName"])
            if "secretName" in node and isinstance(node["secretName"], str):
                names.add(node["secretName"])
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for doc in documents():
        list(walk(doc))
    return names


def test_every_referenced_secret_is_explained_in_the_install_guide() -> None:
    guide = (DOCS / "deploy.md").read_text(encoding="utf-8")
    secrets = referenced_secrets()
    assert {"cityops-db", "cityops-tls-intake", "cityops-nats-audit"} <= secrets
    for name in secrets:
        generic = name.rsplit("-", 1)[0] + "-<service>"
        assert name in guide or generic in guide, (
            f"docs/deploy.md does not say how to create {name}"
        )


def test_network_policies_let_the_console_reach_every_grpc_port() -> None:
    policy = find("NetworkPolicy", "grpc-from-console-and-operators")["spec"]
    allowed = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    grpc_ports = {
        p["containerPort"] for s in SERVICES for p in container(s)["ports"] if p["name"] == "grpc"
    }
    assert allowed == grpc_ports
    targets = set(policy["podSelector"]["matchExpressions"][0]["values"])
    assert targets == {s for s in SERVICES if "grpc" in {p["name"] for p in container(s)["ports"]}}
    assert find("NetworkPolicy", "default-deny-ingress")["spec"]["podSelector"] == {}


def test_ingress_routes_to_existing_service_ports() -> None:
    for rule in find("Ingress", "cityops-public")["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            svc = find("Service", backend["name"])
            assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}


def test_the_collector_receives_where_the_services_export() -> None:
    config = yaml.safe_load(find("ConfigMap", "otel-collector")["data"]["collector.yaml"])
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                assert name in config[kind], f"{kind} {name} is not defined"
    endpoint = common_config()["OTEL_EXPORTER_OTLP_ENDPOINT"]
    host, port = endpoint.removeprefix("http://").split(":")
    svc = find("Service", host)
    assert int(port) in {p["port"] for p in svc["spec"]["ports"]}
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(f":{port}")
    backend = find("ConfigMap", "cityops-otel-backend")["data"]
    assert "TRACES_ENDPOINT" in backend
