"""The values for the official NATS chart, checked offline: a three-node
JetStream cluster on file storage matching the services' stream replicas, the
generated accounts file mounted where the include finds it, and the server
configuration the chart renders from them accepted by nats-server itself."""

from __future__ import annotations

import json
import posixpath
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from cityops_tools import natsauth
from svckit.natsserver import free_port, nats_server_binary

K8S = Path(__file__).resolve().parents[1] / "k8s"
CHART_CONFIG_DIR = "/etc/nats-config"  # where chart 1.x mounts nats.conf


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    return loaded


def common_config() -> dict[str, str]:
    for doc in yaml.safe_load_all((K8S / "common-config.yaml").read_text()):
        if doc and doc["metadata"]["name"] == "cityops-common":
            data: dict[str, str] = doc["data"]
            return data
    raise AssertionError("no cityops-common ConfigMap")


def include_path() -> str:
    [path] = [v for k, v in values()["config"]["merge"].items() if k.endswith("$include")]
    return str(path)


def test_three_jetstream_nodes_on_files_for_replicated_streams() -> None:
    config = values()["config"]
    assert config["cluster"]["enabled"] and config["cluster"]["replicas"] == 3
    jetstream = config["jetstream"]
    assert jetstream["enabled"] and jetstream["fileStore"]["enabled"]
    assert jetstream["fileStore"]["pvc"]["enabled"]
    assert jetstream["memoryStore"]["enabled"] is False
    assert jetstream["merge"]["sync_interval"] == "always"
    # R3 streams need three nodes; the services declare them R3.
    assert int(common_config()["CITYOPS_STREAM_REPLICAS"]) == config["cluster"]["replicas"]
    assert config["mqtt"]["enabled"]
    spread = values()["podTemplate"]["topologySpreadConstraints"]["kubernetes.io/hostname"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"


def test_the_services_connect_to_the_charts_client_service() -> None:
    url = common_config()["CITYOPS_NATS_URL"]
    assert url == "nats://nats.nats.svc.cluster.local:4222"  # release `nats` in namespace `nats`


def test_the_accounts_file_is_mounted_where_the_include_looks() -> None:
    resolved = posixpath.normpath(posixpath.join(CHART_CONFIG_DIR, include_path()))
    [mount] = [p["value"] for p in values()["container"]["patch"] if p["op"] == "add"]
    assert posixpath.join(mount["mountPath"], "accounts.conf") == resolved
    [volume] = [p["value"] for p in values()["podTemplate"]["patch"] if p["op"] == "add"]
    assert volume["name"] == mount["name"] and volume["secret"]["secretName"] == "nats-auth"
    assert volume["secret"]["defaultMode"] & 0o077 == 0


def test_extra_resources_are_valid_kubernetes() -> None:
    for doc in values()["extraResources"]:
        kubernetes_validate.validate(doc, "1.31", strict=True)
    [mqtt] = values()["extraResources"]
    assert mqtt["spec"]["ports"][0]["port"] == 1883


def test_nats_server_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    """What the chart renders (JSON plus an include), with generated accounts."""
    config_dir = tmp_path / CHART_CONFIG_DIR.lstrip("/")
    config_dir.mkdir(parents=True)
    accounts = natsauth.generate(tmp_path / "generated")
    target = (config_dir / include_path()).resolve()
    target.parent.mkdir(parents=True)
    target.write_text(accounts.read_text())
    chart = values()["config"]
    rendered = {
        "server_name": "nats-0",
        "port": free_port(),
        "jetstream": {
            "store_dir": str(tmp_path / "data"),
            "max_file_store": "<<MAXFILE>>",
            **chart["jetstream"]["merge"],
        },
        "mqtt": {"port": free_port()},
        "lame_duck_duration": "<<LAMEDUCK>>",
    }
    text = json.dumps(rendered)
    # The chart writes `<< x >>` values bare (NATS units).
    text = text.replace('"<<MAXFILE>>"', chart["jetstream"]["fileStore"]["maxSize"])
    text = text.replace('"<<LAMEDUCK>>"', chart["merge"]["lame_duck_duration"].strip("<> "))
    conf = config_dir / "nats.conf"
    conf.write_text(f"include {include_path()};\n{text}\n")
    result = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + result.stdout
