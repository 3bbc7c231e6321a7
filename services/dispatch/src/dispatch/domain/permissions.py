"""Who may do what in dispatch (roles as asserted in gRPC metadata)."""

from __future__ import annotations

from collections.abc import Collection

from svckit.errors import InvalidArgumentError, PermissionDeniedError

CATALOGUE_ADMINS = frozenset({"admin", "supervisor"})
DISPATCHERS = frozenset({"operator", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})


def require_role(role: str, allowed: Collection[str], action: str) -> None:
    if role not in allowed:
        raise PermissionDeniedError(
            f"{action} needs the role {' or '.join(sorted(allowed))} (caller is {role})"
        )


def require_request_id(request_id: str) -> None:
    """Mutating calls carry a request_id so a retry is answered, not applied twice."""
    if not request_id.strip():
        raise InvalidArgumentError("request_id is required")
