"""A gRPC aio server with health, reflection, tracing and domain-error mapping.

With TLS configured (svckit.grpc.tls: explicitly, or `CITYOPS_TLS_*` in the
environment) it requires client certificates, enforces who may assert a
person's identity, and can serve health alone on a plaintext port for probes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from svckit.grpc.errors import DomainErrorInterceptor
from svckit.grpc.tls import AssertionGuard, TlsConfig, resolve
from svckit.logging import get_logger
from svckit.settings import FROM_ENVIRONMENT, FromEnvironment

log = get_logger(__name__)

Registration = tuple[Callable[[Any, aio.Server], None], Any, str]
"""(add_XServicer_to_server, servicer, full service name)."""


class GrpcServer:
    def __init__(
        self,
        host: str,
        port: int,
        services: Sequence[Registration],
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
        tls: TlsConfig | FromEnvironment | None = FROM_ENVIRONMENT,
    ) -> None:
        # gRPC's 4 MiB default would refuse evidence uploads the services allow.
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self.tls = resolve(tls)
        interceptors: list[aio.ServerInterceptor] = [
            aio_server_interceptor(),
            DomainErrorInterceptor(),
        ]
        if self.tls and self.tls.trusted_asserters:
            interceptors.append(AssertionGuard(self.tls.trusted_asserters))
        self._server = aio.server(interceptors=interceptors, options=options)
        self._health = (
            health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        names = [name for _, _, name in services]
        for add, servicer, _ in services:
            add(servicer, self._server)
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self._server,
        )
        self._names = names
        if self.tls:
            self.port = self._server.add_secure_port(
                f"{host}:{port}", self.tls.server_credentials()
            )
        else:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC on {host}:{port}")
        self.address = f"{host}:{self.port}"
        self._health_server: aio.Server | None = None
        self.health_port: int | None = None
        if self.tls and self.tls.health_port is not None:
            self._health_server = aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._health_server)
            self.health_port = self._health_server.add_insecure_port(
                f"{host}:{self.tls.health_port}"
            )
            if self.health_port == 0:
                raise RuntimeError(f"cannot bind gRPC health on {host}:{self.tls.health_port}")

    async def start(self) -> None:
        await self._server.start()
        if self._health_server is not None:
            await self._health_server.start()
        for name in ["", *self._names]:
            await _set_serving(self._health, name)
        log.info(
            "grpc listening", address=self.address, mtls=bool(self.tls), health=self.health_port
        )

    async def stop(self, grace: float = 5.0) -> None:
        await self._server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(None)


async def _set_serving(servicer: Any, name: str) -> None:
    result = servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if result is not None and hasattr(result, "__await__"):
        await result
