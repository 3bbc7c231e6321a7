"""gRPC mutual TLS on a real aio server on loopback: who gets in (a client
with a certificate from the deployment's CA), who does not (no certificate,
another CA, an expired certificate, plaintext), what the handler learns (the
caller's service name), and who may speak for a person."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cityops.detection.v1 import detection_pb2, detection_service_pb2, detection_service_pb2_grpc
from cityops_tools import devcerts
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller, caller_from_metadata, peer_service
from svckit.grpc.server import GrpcServer
from svckit.grpc.tls import TlsConfig
from svckit.testing.polling import eventually

SERVICE = "cityops.detection.v1.DetectionService"
PERSON = Caller(user_id="op-7", role="operator")


class WhoAmI(detection_service_pb2_grpc.DetectionServiceServicer):
    """Echoes the caller: peer service in source_id, asserted person in vendor."""

    async def GetDetection(  # noqa: N802 (gRPC method name)
        self, request: detection_service_pb2.GetDetectionRequest, context: aio.ServicerContext
    ) -> detection_service_pb2.GetDetectionResponse:
        person = caller_from_metadata(context.invocation_metadata()).user_id
        return detection_service_pb2.GetDetectionResponse(
            detection=detection_pb2.Detection(
                detection_id=request.detection_id,
                source_id=peer_service(context) or "",
                vendor=person,
            )
        )


@dataclass
class Pki:
    root: Path
    ca: devcerts.Issued

    def tls(self, service: str, ca: devcerts.Issued | None = None, **kw: object) -> TlsConfig:
        """A certificate for `service` (signed by `ca`, default the deployment's)."""
        issued = devcerts.issue(ca or self.ca, service, **kw)  # type: ignore[arg-type]
        cert, key = devcerts.write(self.root / service, service, issued)
        return TlsConfig(cert, key, self.root / "ca.crt")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    root = tmp_path / "pki"
    return Pki(root, devcerts.load_or_create_ca(root))


def registration() -> list[tuple[Callable[..., None], object, str]]:
    return [(detection_service_pb2_grpc.add_DetectionServiceServicer_to_server, WhoAmI(), SERVICE)]


@pytest.fixture
async def server(pki: Pki) -> AsyncIterator[GrpcServer]:
    tls = pki.tls("detection")
    config = TlsConfig(tls.cert_file, tls.key_file, tls.ca_file, health_port=0)
    server = GrpcServer("127.0.0.1", 0, registration(), tls=config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


async def who(target: str, tls: TlsConfig | None, caller: Caller = PERSON) -> tuple[str, str]:
    chan = channel(target, deadline_seconds=5, tls=tls)
    try:
        stub = detection_service_pb2_grpc.DetectionServiceStub(chan)
        reply = await stub.GetDetection(
            detection_service_pb2.GetDetectionRequest(detection_id="d-1"),
            metadata=caller.metadata(),
        )
        return reply.detection.source_id, reply.detection.vendor
    finally:
        await chan.close()


async def refused(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    chan = aio.secure_channel(target, credentials) if credentials else aio.insecure_channel(target)
    try:
        stub = detection_service_pb2_grpc.DetectionServiceStub(chan)
        with pytest.raises(aio.AioRpcError) as caught:
            await stub.GetDetection(
                detection_service_pb2.GetDetectionRequest(detection_id="d-1"),
                metadata=PERSON.metadata(),
                timeout=5,
            )
        return caught.value.code()
    finally:
        await chan.close()


async def test_a_client_with_a_certificate_from_the_ca_gets_in_and_is_named(
    server: GrpcServer, pki: Pki
) -> None:
    assert await who(server.address, pki.tls("console")) == ("console", "op-7")


async def test_a_client_without_a_certificate_is_refused(server: GrpcServer, pki: Pki) -> None:
    no_cert = grpc.ssl_channel_credentials(root_certificates=(pki.root / "ca.crt").read_bytes())
    assert await refused(server.address, no_cert) == grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_client_is_refused(server: GrpcServer) -> None:
    assert await refused(server.address, None) == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused(server: GrpcServer, pki: Pki) -> None:
    other = pki.tls("console", ca=devcerts.create_ca("Somebody else's CA"))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki.root / "ca.crt").read_bytes(),
        private_key=other.key_file.read_bytes(),
        certificate_chain=other.cert_file.read_bytes(),
    )
    assert await refused(server.address, credentials) == grpc.StatusCode.UNAVAILABLE


async def test_an_expired_certificate_is_refused(server: GrpcServer, pki: Pki) -> None:
    expired = pki.tls(
        "console", not_before=datetime.now(UTC) - timedelta(days=3), days=1
    ).channel_credentials()
    assert await refused(server.address, expired) == grpc.StatusCode.UNAVAILABLE


async def test_the_client_refuses_a_server_from_another_ca(pki: Pki, tmp_path: Path) -> None:
    impostor_ca = devcerts.create_ca("Impostor CA")
    impostor = pki.tls("detection", ca=impostor_ca)
    devcerts.write(tmp_path / "impostor", "ca", impostor_ca)
    config = TlsConfig(impostor.cert_file, impostor.key_file, tmp_path / "impostor" / "ca.crt")
    server = GrpcServer("127.0.0.1", 0, registration(), tls=config)
    await server.start()
    try:
        credentials = pki.tls("console").channel_credentials()
        assert await refused(server.address, credentials) == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)


async def test_health_alone_is_served_in_plaintext_for_probes(server: GrpcServer) -> None:
    assert server.health_port
    async with aio.insecure_channel(f"127.0.0.1:{server.health_port}") as chan:
        reply = await health_pb2_grpc.HealthStub(chan).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(aio.AioRpcError) as caught:
            await detection_service_pb2_grpc.DetectionServiceStub(chan).GetDetection(
                detection_service_pb2.GetDetectionRequest(detection_id="d-1"), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.fixture
async def guarded(pki: Pki) -> AsyncIterator[GrpcServer]:
    """A server where only the console may assert a person's identity."""
    tls = pki.tls("workorders")
    config = TlsConfig(
        tls.cert_file, tls.key_file, tls.ca_file, trusted_asserters=frozenset({"console"})
    )
    server = GrpcServer("127.0.0.1", 0, registration(), tls=config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


async def test_only_a_trusted_asserter_may_speak_for_a_person(
    guarded: GrpcServer, pki: Pki
) -> None:
    assert await who(guarded.address, pki.tls("console")) == ("console", "op-7")
    with pytest.raises(aio.AioRpcError) as caught:
        await who(guarded.address, pki.tls("intake"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "intake" in (caught.value.details() or "")


async def test_an_untrusted_service_may_still_call_as_itself(guarded: GrpcServer, pki: Pki) -> None:
    itself = Caller(user_id="intake", role="system")
    assert await who(guarded.address, pki.tls("intake"), itself) == ("intake", "intake")
    impersonating = Caller(user_id="console", role="system")
    with pytest.raises(aio.AioRpcError) as caught:
        await who(guarded.address, pki.tls("intake"), impersonating)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_renewed_certificates_are_picked_up_without_a_restart(
    server: GrpcServer, pki: Pki
) -> None:
    """cert-manager rewrites the files in place; the next handshake uses them."""
    renewed_ca = devcerts.create_ca("Renewed CA")
    client = pki.tls("console", ca=renewed_ca)
    with pytest.raises(aio.AioRpcError):
        await who(server.address, client)  # the server does not trust the new CA yet
    devcerts.write(pki.root / "detection", "detection", devcerts.issue(renewed_ca, "detection"))
    devcerts.write(pki.root, "ca", renewed_ca)

    async def admitted() -> bool:
        try:
            return await who(server.address, client) == ("console", "op-7")
        except aio.AioRpcError:
            return False

    assert await eventually(admitted, timeout=10)


async def test_tls_comes_from_the_environment_when_not_given(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a deployed process does: CITYOPS_TLS_* set, no code passes settings."""
    served, client = pki.tls("audit"), pki.tls("console")
    for name, value in (
        ("CITYOPS_TLS_CERT_FILE", served.cert_file),
        ("CITYOPS_TLS_KEY_FILE", served.key_file),
        ("CITYOPS_TLS_CA_FILE", served.ca_file),
    ):
        monkeypatch.setenv(name, str(value))
    server = GrpcServer("127.0.0.1", 0, registration())
    await server.start()
    try:
        assert await refused(server.address, None) == grpc.StatusCode.UNAVAILABLE
        monkeypatch.setenv("CITYOPS_TLS_CERT_FILE", str(client.cert_file))
        monkeypatch.setenv("CITYOPS_TLS_KEY_FILE", str(client.key_file))
        chan = channel(server.address)
        try:
            stub = detection_service_pb2_grpc.DetectionServiceStub(chan)
            reply = await stub.GetDetection(
                detection_service_pb2.GetDetectionRequest(detection_id="d-1"),
                metadata=PERSON.metadata(),
            )
            assert reply.detection.source_id == "console"
        finally:
            await chan.close()
    finally:
        await server.stop(0)
