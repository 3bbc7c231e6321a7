"""The whole stack on one machine: nats-server plus every service as its own
process, SQLite under one data folder. `make run`, the e2e suite and the
benchmarks all start it through this module, so they run the same thing.

    python -m cityops_tools.devstack [--data-dir var] [--simulate]

Ctrl-C stops the services first (each flushes its outbox), then nats-server.
A second run resumes with the data kept.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from svckit.natsserver import NatsServer, free_ports

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")


@dataclass
class Ports:
    """Loopback ports; the defaults are DESIGN §9's, each overridable by environment."""

    nats: int = 4222
    nats_mqtt: int = 1883
    nats_monitor: int = 8222
    console_http: int = 8080
    detection_http: int = 8081
    intake_grpc: int = 50051
    dispatch_grpc: int = 50052
    workorders_grpc: int = 50053
    audit_grpc: int = 50054
    detection_grpc: int = 50055
    detection_metrics: int = 9101
    intake_metrics: int = 9102
    dispatch_metrics: int = 9103
    workorders_metrics: int = 9104
    audit_metrics: int = 9105
    console_metrics: int = 9106

    @classmethod
    def from_env(cls) -> Ports:
        ports = cls()
        for name in ports.__dataclass_fields__:
            value = os.environ.get(f"CITYOPS_PORT_{name.upper()}")
            if value:
                setattr(ports, name, int(value))
        return ports

    @classmethod
    def free(cls) -> Ports:
        """Ephemeral ports, for tests that run beside a developer's stack."""
        names = list(cls.__dataclass_fields__)
        return cls(**dict(zip(names, free_ports(len(names)), strict=True)))

    def grpc_target(self, service: str) -> str:
        return f"127.0.0.1:{getattr(self, f'{service}_grpc')}"


@dataclass
class Stack:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    log_format: str = "console"
    # Folder for per-process span files (JSON lines); None disables them.
    span_dir: Path | None = None
    # Where service output goes: None inherits the terminal, else a folder of log files.
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    extra_env: dict[str, str] = field(default_factory=dict)
    nats: NatsServer | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def env_for(self, service: str) -> dict[str, str]:
        p = self.ports
        env = {
            **os.environ,
            "CITYOPS_NATS_URL": f"nats://127.0.0.1:{p.nats}",
            "CITYOPS_DATA_DIR": str(self.data_dir / "db"),
            "CITYOPS_LOG_FORMAT": self.log_format,
            "CITYOPS_DETECTION_HTTP_PORT": str(p.detection_http),
            "CITYOPS_CONSOLE_HTTP_PORT": str(p.console_http),
            "CITYOPS_INTAKE_GRPC_PORT": str(p.intake_grpc),
            "CITYOPS_DISPATCH_GRPC_PORT": str(p.dispatch_grpc),
            "CITYOPS_WORKORDERS_GRPC_PORT": str(p.workorders_grpc),
            "CITYOPS_AUDIT_GRPC_PORT": str(p.audit_grpc),
            "CITYOPS_DETECTION_GRPC_PORT": str(p.detection_grpc),
            "CITYOPS_CONSOLE_INTAKE_TARGET": p.grpc_target("intake"),
            "CITYOPS_CONSOLE_AUDIT_TARGET": p.grpc_target("audit"),
            "CITYOPS_CONSOLE_WORKORDERS_TARGET": p.grpc_target("workorders"),
            "CITYOPS_CONSOLE_DISPATCH_TARGET": p.grpc_target("dispatch"),
            "CITYOPS_CONSOLE_DETECTION_TARGET": p.grpc_target("detection"),
            # Demo users (operator, inspector, supervisor, auditor, admin, dept-<id>);
            # the console prints their password once unless one is given.
            "CITYOPS_CONSOLE_SEED_DEMO_USERS": "true",
            f"CITYOPS_{service.upper()}_METRICS_PORT": str(getattr(p, f"{service}_metrics")),
            # Completion needs the photos uploaded through the service, not links.
            "CITYOPS_WORKORDERS_REQUIRE_UPLOADED_EVIDENCE": "true",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.span_dir:
            env["CITYOPS_SPAN_FILE"] = str(self.span_dir / f"{service}.jsonl")
        return env

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_nats()
        for service in self.services:
            self.start_service(service)
        self.wait_ready(timeout)

    def start_nats(self) -> None:
        if self.nats is None:
            self.nats = NatsServer(
                self.data_dir / "nats",
                port=self.ports.nats,
                mqtt_port=self.ports.nats_mqtt,
                monitor_port=self.ports.nats_monitor,
                log_file=self.data_dir / "nats-server.log",
            )
        self.nats.start()

    def start_service(self, service: str) -> None:
        out: int | IO[bytes] | None = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._logs[service] = (self.log_dir / f"{service}.log").open("ab")
            out = self._logs[service]
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", service],
            env=self.env_for(service),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes[service]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            proc.wait(30)

    def restart(self, service: str, timeout: float = 60.0) -> None:
        self.start_service(service)
        self.wait_ready(timeout, only=(service,))

    def wait_ready(self, timeout: float = 60.0, only: tuple[str, ...] | None = None) -> None:
        deadline = time.monotonic() + timeout
        for service in only or self.services:
            while not self._ready(service):
                proc = self.processes[service]
                if proc.poll() is not None:
                    raise RuntimeError(f"{service} exited with {proc.returncode} during start")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} not ready after {timeout}s")
                time.sleep(0.1)

    def _ready(self, service: str) -> bool:
        """Our own server answers, not merely something on the port."""
        if service == "console":
            return _healthy(self.ports.console_http)
        if service == "detection" and not _healthy(self.ports.detection_http):
            return False
        return _grpc_serving(self.ports.grpc_target(service))

    def stop(self) -> None:
        """Services first (SIGTERM: they finish in-flight work and flush), then NATS."""
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for service, proc in self.processes.items():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                print(f"{service} did not stop in 20s; killing", file=sys.stderr)
                proc.kill()
                proc.wait()
        self.processes.clear()
        if self.nats:
            self.nats.stop()
        for log in self._logs.values():
            log.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def _healthy(port: int) -> bool:
    """GET /healthz answers 200 (the console and the detection ingest serve it)."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    return False


def _grpc_serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("CITYOPS_DATA_DIR", "var"))
    )
    parser.add_argument("--simulate", action="store_true", help="also feed the city simulator")
    parser.add_argument("--rate", type=float, default=2.0, help="simulated detections per second")
    args = parser.parse_args()
    stack = Stack(data_dir=args.data_dir.resolve(), ports=Ports.from_env())
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sim: subprocess.Popen[bytes] | None = None
    try:
        stack.start()
        print(
            f"\nCityOps is running. Console: http://127.0.0.1:{stack.ports.console_http}  "
            f"(ingest: http://127.0.0.1:{stack.ports.detection_http}/ingest/detections)  Ctrl-C stops.\n",
            file=sys.stderr,
        )
        if args.simulate:
            sim = subprocess.Popen(
                [sys.executable, "-m", "cityops_tools.simulator", "--rate", str(args.rate)],
                env={
                    **os.environ,
                    **{f"CITYOPS_PORT_{k.upper()}": str(v) for k, v in vars(stack.ports).items()},
                },
                start_new_session=True,
            )
        while not stopping:
            for service, proc in stack.processes.items():
                if proc.poll() is not None:
                    print(
                        f"{service} exited with {proc.returncode}; stopping the stack",
                        file=sys.stderr,
                    )
                    stopping = True
            time.sleep(0.3)
    finally:
        if sim and sim.poll() is None:
            sim.terminate()
            sim.wait(10)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
