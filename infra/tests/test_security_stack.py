"""The whole stack hardened as in production, each service its own process:
every service on NATS as its own NKey user under the generated permissions,
gRPC with mutual TLS and only trusted services asserting people's identities.
One detection travels the loop to closed, and nats-server records no
permission violation: the allow-lists cover what the services really do."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.intake.v1 import intake_service_pb2_grpc as intake_grpc
from cityops_tools import devcerts, natsauth
from cityops_tools.devstack import SERVICES, Ports, Stack
from cityops_tools.loop import OPERATOR, LoopDriver
from svckit.grpc.client import channel
from svckit.grpc.tls import TlsConfig
from svckit.natsserver import NatsServer, free_port
from svckit.testing.polling import eventually

DRIVER = "loop-driver"  # the test's own certificate: a trusted asserter, like the console


@dataclass
class HardenedStack(Stack):
    secrets: Path = Path()
    health_ports: dict[str, int] = field(default_factory=dict)

    def env_for(self, service: str) -> dict[str, str]:
        pki = self.secrets / "pki"
        return {
            **super().env_for(service),
            "CITYOPS_NATS_NKEY_SEED_FILE": str(natsauth.seed_file(self.secrets / "nats", service)),
            "CITYOPS_TLS_CERT_FILE": str(pki / f"{service}.crt"),
            "CITYOPS_TLS_KEY_FILE": str(pki / f"{service}.key"),
            "CITYOPS_TLS_CA_FILE": str(pki / "ca.crt"),
            "CITYOPS_GRPC_HEALTH_PORT": str(self.health_ports[service]),
            "CITYOPS_TRUSTED_IDENTITY_ASSERTERS": f"console,{DRIVER}",
        }

    def _ready(self, service: str) -> bool:
        """Probed as the kubelet does: plaintext health on the health port."""
        if service == "console":
            return super()._ready(service)
        with grpc.insecure_channel(f"127.0.0.1:{self.health_ports[service]}") as chan:
            try:
                reply = health_pb2_grpc.HealthStub(chan).Check(
                    health_pb2.HealthCheckRequest(), timeout=0.5
                )
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardenedStack]:
    root = tmp_path_factory.mktemp("hardened")
    conf = natsauth.generate(root / "secrets" / "nats")
    devcerts.generate(root / "secrets" / "pki", [*SERVICES, DRIVER], days=1)
    ports = Ports.free()
    the_stack = HardenedStack(
        data_dir=root / "var",
        ports=ports,
        log_format="json",
        log_dir=root / "logs",
        nats=NatsServer(
            root / "var" / "nats",
            port=ports.nats,
            mqtt_port=ports.nats_mqtt,
            log_file=root / "nats-server.log",
            extra_config=conf.read_text(),
        ),
        secrets=root / "secrets",
        health_ports={s: free_port() for s in SERVICES},
    )
    try:
        the_stack.start(timeout=120)
        yield the_stack
    finally:
        the_stack.stop()


def tls_as(stack: HardenedStack, name: str) -> TlsConfig:
    pki = stack.secrets / "pki"
    return TlsConfig(pki / f"{name}.crt", pki / f"{name}.key", pki / "ca.crt")


@pytest.fixture
def as_driver(stack: HardenedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's channels (the LoopDriver's) present the driver's certificate."""
    tls = tls_as(stack, DRIVER)
    monkeypatch.setenv("CITYOPS_TLS_CERT_FILE", str(tls.cert_file))
    monkeypatch.setenv("CITYOPS_TLS_KEY_FILE", str(tls.key_file))
    monkeypatch.setenv("CITYOPS_TLS_CA_FILE", str(tls.ca_file))


async def cases(target: str) -> list[case_pb2.Case]:
    chan = channel(target)
    try:
        reply = await intake_grpc.IntakeServiceStub(chan).ListCases(
            intake_pb.ListCasesRequest(page_size=500), metadata=OPERATOR.metadata()
        )
        return list(reply.cases)
    finally:
        await chan.close()


async def test_a_detection_travels_the_hardened_loop_without_a_violation(
    stack: HardenedStack, as_driver: None
) -> None:
    picture = "https://evidence.sample-city.example/cam-0042/1.jpg"
    body = {
        "source_id": "cam-0042",
        "source_event_id": "hardened-1",
        "source_kind": "video_ai",
        "category_code": "E0105",
        "latitude": 31.25,
        "longitude": 121.50,
        "confidence": 0.93,
        "description": "路面坑洼",
        "observed_at": datetime.now(UTC).isoformat(),
        "evidence": [
            {
                "uri": picture,
                "sha256": hashlib.sha256(picture.encode()).hexdigest(),
                "media_type": "image/jpeg",
                "size_bytes": 120000,
            }
        ],
    }
    async with httpx.AsyncClient(timeout=10) as http:
        url = f"http://127.0.0.1:{stack.ports.detection_http}/ingest/detections"
        reply = await http.post(url, json=body)
    assert reply.status_code == 202, reply.text
    detection_id = reply.json()["detection_id"]
    intake = stack.ports.grpc_target("intake")
    driver = LoopDriver(
        intake, stack.ports.grpc_target("workorders"), stack.ports.grpc_target("audit")
    )

    async def closed() -> bool:
        await driver.step()
        mine = [c for c in await cases(intake) if detection_id in c.detection_ids]
        return bool(mine) and mine[0].state == case_pb2.CASE_STATE_CLOSED

    await eventually(closed, timeout=120, every=0.3)
    assert stack.nats is not None and stack.nats.log_file is not None
    log = stack.nats.log_file.read_text()
    assert "Violation" not in log, [line for line in log.splitlines() if "Violation" in line]


async def test_the_hardened_stack_refuses_plaintext_and_untrusted_assertions(
    stack: HardenedStack,
) -> None:
    target = stack.ports.grpc_target("intake")
    with pytest.raises(aio.AioRpcError) as plaintext:
        await cases_with(target, None)
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    # Detection holds a valid certificate but is not trusted to speak for an operator.
    with pytest.raises(aio.AioRpcError) as untrusted:
        await cases_with(target, tls_as(stack, "detection"))
    assert untrusted.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def cases_with(target: str, tls: TlsConfig | None) -> None:
    chan = channel(target, tls=tls, deadline_seconds=5)
    try:
        await intake_grpc.IntakeServiceStub(chan).ListCases(
            intake_pb.ListCasesRequest(page_size=1), metadata=OPERATOR.metadata()
        )
    finally:
        await chan.close()
