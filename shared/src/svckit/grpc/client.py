"""gRPC client channels: traced, with a default deadline on every call, and
mutual TLS with the service's own certificate when TLS is configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from grpc import aio
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from svckit.grpc.tls import TlsConfig, resolve
from svckit.settings import FROM_ENVIRONMENT, FromEnvironment


class DefaultDeadline(aio.UnaryUnaryClientInterceptor):
    """No call without a deadline: a hung peer must not hang the caller."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[aio.ClientCallDetails, Any], Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = aio.ClientCallDetails(
                client_call_details.method,
                self._seconds,
                client_call_details.metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)


def channel(
    target: str,
    *,
    deadline_seconds: float = 10.0,
    tls: TlsConfig | FromEnvironment | None = FROM_ENVIRONMENT,
) -> aio.Channel:
    """A channel to `target`; `tls` defaults to the process's `CITYOPS_TLS_*`
    (none set: plaintext). The server's certificate must name `target`'s host."""
    interceptors = [DefaultDeadline(deadline_seconds), *aio_client_interceptors()]
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ]
    config = resolve(tls)
    if config is None:
        return aio.insecure_channel(target, interceptors=interceptors, options=options)
    return aio.secure_channel(
        target, config.channel_credentials(), interceptors=interceptors, options=options
    )


__all__ = ["DefaultDeadline", "channel", "grpc"]
