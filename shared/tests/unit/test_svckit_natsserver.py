"""svckit.natsserver: the configuration every nats-server of ours runs with
(started for real by the component tests, not here)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from svckit import natsserver
from svckit.natsserver import NatsServer, free_port, nats_server_binary


def blocks(config: str) -> dict[str, list[str]]:
    """Top-level lines under "", and each `name {` block's lines under its name."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for raw in config.splitlines():
        line = raw.strip()
        if line.endswith("{"):
            current = line.removesuffix("{").strip()
            out[current] = []
        elif line == "}":
            current = ""
        else:
            out[current].append(line)
    return out


def test_jetstream_syncs_every_write_and_listens_on_loopback(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js", port=14222)
    config = server.config()
    assert config.endswith("\n")
    parsed = blocks(config)
    assert parsed[""] == ["host: 127.0.0.1", "port: 14222", "server_name: cityops-embedded"]
    assert parsed["jetstream"] == [f'store_dir: "{tmp_path / "js"}"', "sync_interval: always"]
    assert "mqtt" not in parsed
    assert not any(line.startswith("http") for line in parsed[""])
    assert server.url == "nats://127.0.0.1:14222"


def test_fsync_of_every_write_can_be_left_to_the_server_for_measuring(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js", port=14222, sync_every_write=False)
    assert blocks(server.config())["jetstream"] == [f'store_dir: "{tmp_path / "js"}"']


def test_mqtt_and_monitoring_only_when_asked_and_on_loopback(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js", port=14222, mqtt_port=11883, monitor_port=18222)
    parsed = blocks(server.config())
    assert parsed["mqtt"] == ["host: 127.0.0.1", "port: 11883"]
    assert "http: 127.0.0.1:18222" in parsed[""]
    assert parsed["jetstream"][-1] == "sync_interval: always"


def test_without_a_port_one_is_picked_that_is_free(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js")
    assert 0 < server.port < 65536
    assert f"port: {server.port}" in server.config()
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))  # free to bind right now


def test_a_picked_port_is_never_the_mqtt_or_monitor_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel may hand a just-closed port out again at once: free_port
    # returning the MQTT port, then the monitor port, is what happened in CI.
    handed_out = iter([11883, 18222, 14999])
    monkeypatch.setattr(natsserver, "free_port", lambda: next(handed_out))
    server = NatsServer(tmp_path / "js", mqtt_port=11883, monitor_port=18222)
    assert server.port == 14999


def test_a_server_not_started_is_not_running_and_stops_quietly(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js")
    assert not server.running
    server.stop()
    server.kill()
    assert not server.running
    assert not (tmp_path / "js").exists()  # nothing written before start()


def test_the_binary_is_installed() -> None:
    binary = nats_server_binary()
    assert os.path.isfile(binary) and os.access(binary, os.X_OK)
