"""What the console's use cases share: the service stubs, the reference data
and a few settings, plus the identity a principal acts under in gRPC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from console.adapters.clients import ServiceClients
from console.domain.access import Principal
from console.service_layer.views import Reference
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller


@dataclass(frozen=True)
class Options:
    # Orders with less than this left (wall clock) are "at risk" on the board.
    at_risk_seconds: int = 4 * 3600
    # Jaeger/Tempo link for a trace id, e.g. "http://127.0.0.1:16686/trace/{trace_id}".
    trace_url_template: str = ""
    # The most cases one screen scans from intake (filters apply to these).
    case_scan_limit: int = 2000
    # Hex key ids of the audit log's Ed25519 keys the console trusts; empty: audit's own list.
    trusted_key_ids: Sequence[str] = ()
    max_upload_bytes: int = 10 * 1024 * 1024
    upload_media_types: Sequence[str] = ("image/jpeg", "image/png", "application/pdf")


@dataclass
class Console:
    clients: ServiceClients
    ref: Reference
    options: Options = field(default_factory=Options)


def caller(principal: Principal) -> Caller:
    """The logged-in person, as the services see them."""
    return Caller(principal.user_id, principal.role.value, principal.department_id)


def enum_value(enum: Any, name: str, what: str) -> Any:
    """A proto enum value by its full name; bad names are the caller's mistake."""
    try:
        value = int(enum.Value(name))
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"unknown {what} {name!r}") from exc
    if value == 0:
        raise InvalidArgumentError(f"{what} is required")
    return value
