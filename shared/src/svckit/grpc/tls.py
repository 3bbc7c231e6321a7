"""Mutual TLS for gRPC between services: every server demands a client
certificate signed by the deployment's CA, every channel presents the
service's own.

Configured by three common settings, all or none (docs/security.md):
`CITYOPS_TLS_CERT_FILE`, `CITYOPS_TLS_KEY_FILE`, `CITYOPS_TLS_CA_FILE`. None set
means plaintext, as in the local stack and the test suites. The server
re-reads the files when they change (cert-manager renewals, short-lived
certificates) without a restart; channels read them when they are opened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from svckit.errors import PermissionDeniedError
from svckit.grpc.identity import USER, check_assertion, peer_service
from svckit.settings import FromEnvironment, ServiceSettings


@dataclass(frozen=True)
class TlsConfig:
    """This process's certificate and key, the CA its peers must come from, and
    what goes with mTLS on a server (plaintext health port, trusted asserters)."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    # Plaintext port serving only health: kubelet gRPC probes carry no client certificate.
    health_port: int | None = None
    # Peer services allowed to assert a person's identity; empty: any authenticated peer.
    trusted_asserters: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TlsConfig | None:
        files = (settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file)
        if all(f is None for f in files):
            return None
        cert, key, ca = files
        if cert is None or key is None or ca is None:
            raise ValueError(
                "gRPC TLS needs CITYOPS_TLS_CERT_FILE, _KEY_FILE and _CA_FILE together"
            )
        asserters = {n.strip() for n in settings.trusted_identity_asserters.split(",")}
        return cls(cert, key, ca, settings.grpc_health_port, frozenset(asserters - {""}))

    @classmethod
    def from_environment(cls) -> TlsConfig | None:
        return cls.from_settings(ServiceSettings())

    def _read(self) -> tuple[bytes, bytes, bytes]:
        return self.cert_file.read_bytes(), self.key_file.read_bytes(), self.ca_file.read_bytes()

    def _stamp(self) -> tuple[int, ...]:
        return tuple(p.stat().st_mtime_ns for p in (self.cert_file, self.key_file, self.ca_file))

    def server_credentials(self) -> grpc.ServerCredentials:
        """Client certificates required; the files are re-read when they change."""
        stamp = self._stamp()

        def configuration() -> Any:
            cert, key, ca = self._read()
            return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

        def fetch() -> Any:
            # Called by gRPC on each handshake: None keeps the current configuration.
            nonlocal stamp
            try:
                current = self._stamp()
                if current == stamp:
                    return None
                stamp = current
                return configuration()
            except OSError:  # a renewal half-written: keep what works
                return None

        return grpc.dynamic_ssl_server_credentials(
            configuration(), fetch, require_client_authentication=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        cert, key, ca = self._read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )


def resolve(tls: TlsConfig | FromEnvironment | None) -> TlsConfig | None:
    """An explicit choice wins; the default reads the process environment."""
    if isinstance(tls, str):
        return TlsConfig.from_environment()
    return tls


class AssertionGuard(aio.ServerInterceptor):
    """Refuses, before the handler runs, an RPC whose peer service asserts a
    person it is not trusted to (svckit.grpc.identity.check_assertion)."""

    def __init__(self, trusted: frozenset[str]) -> None:
        self._trusted = trusted

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        metadata = handler_call_details.invocation_metadata or ()
        if handler is None or all(key.lower() != USER for key, _ in metadata):
            return handler  # nobody asserted: nothing to check
        return _guarded(handler, self._trusted)


def _guarded(handler: grpc.RpcMethodHandler, trusted: frozenset[str]) -> grpc.RpcMethodHandler:
    """The same handler, admitting the call first (streaming handlers must be
    async generators, as every CityOps and grpc-health handler is)."""

    async def admit(context: aio.ServicerContext) -> None:
        try:
            check_assertion(peer_service(context), context.invocation_metadata(), trusted)
        except PermissionDeniedError as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))

    codec: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    single = handler.unary_unary or handler.stream_unary
    if single is not None:

        async def answer(request: Any, context: aio.ServicerContext) -> Any:
            await admit(context)
            return await single(request, context)

        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(answer, **codec)
        return grpc.stream_unary_rpc_method_handler(answer, **codec)
    streaming = handler.unary_stream or handler.stream_stream

    async def stream(request: Any, context: aio.ServicerContext) -> Any:
        await admit(context)
        async for reply in streaming(request, context):
            yield reply

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream, **codec)
    return grpc.stream_stream_rpc_method_handler(stream, **codec)
