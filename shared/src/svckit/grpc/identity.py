"""The caller's identity, carried in gRPC metadata and checked in the service layer.

The console and tools assert who acts through these headers; every mutating
handler receives a `Caller`. With mutual TLS on (svckit.grpc.tls), the peer
*service* is known from its certificate (`peer_service`), and only the
services trusted to assert a person's identity may send these headers for
somebody else (`check_assertion`, enforced for every RPC by GrpcServer).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cityops.common.v1 import common_pb2
from svckit.errors import PermissionDeniedError, UnauthenticatedError

USER = "x-cityops-user"
DEPARTMENT = "x-cityops-department"
ROLE = "x-cityops-role"

ROLES = {
    "operator": common_pb2.ACTOR_ROLE_OPERATOR,
    "supervisor": common_pb2.ACTOR_ROLE_SUPERVISOR,
    "department_user": common_pb2.ACTOR_ROLE_DEPARTMENT_USER,
    "inspector": common_pb2.ACTOR_ROLE_INSPECTOR,
    "auditor": common_pb2.ACTOR_ROLE_AUDITOR,
    "admin": common_pb2.ACTOR_ROLE_ADMIN,
    "system": common_pb2.ACTOR_ROLE_SYSTEM,
}


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str
    department_id: str = ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((USER, self.user_id), (DEPARTMENT, self.department_id), (ROLE, self.role))

    def to_actor(self) -> common_pb2.Actor:
        return common_pb2.Actor(
            user_id=self.user_id, department_id=self.department_id, role=ROLES[self.role]
        )


def caller_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> Caller:
    """Who is calling; refuses a call that does not say."""
    values = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in (metadata or ())}
    user, role = values.get(USER, ""), values.get(ROLE, "")
    if not user or role not in ROLES:
        raise UnauthenticatedError(f"metadata must carry {USER} and a known {ROLE}")
    department = values.get(DEPARTMENT, "")
    if role == "department_user" and not department:
        raise UnauthenticatedError(f"a department user must carry {DEPARTMENT}")
    return Caller(user_id=user, role=role, department_id=department)


# A service certificate names its service as a URI SAN (spiffe://cityops/<service>);
# certificates without one fall back to their subject common name.
SERVICE_URI_PREFIX = "spiffe://cityops/"


def service_from_auth_context(auth: Mapping[str, Sequence[bytes]]) -> str | None:
    """The service a verified TLS peer certificate names; None on plaintext."""
    if list(auth.get("transport_security_type", [])) != [b"ssl"]:
        return None
    for san in auth.get("x509_subject_alternative_name", []):
        name = san.decode()
        if name.startswith(SERVICE_URI_PREFIX):
            return name.removeprefix(SERVICE_URI_PREFIX)
    common = auth.get("x509_common_name", [])
    return common[0].decode() if common else None


def peer_service(context: Any) -> str | None:
    """Which service is calling (from `context.auth_context()`), when mTLS is on."""
    return service_from_auth_context(context.auth_context())


def check_assertion(
    peer: str | None,
    metadata: Sequence[tuple[str, str | bytes]] | None,
    trusted: Collection[str],
) -> None:
    """Refuse a peer service that speaks for a person it may not speak for.

    Applies only when the peer is known (mTLS) and an allow-list is configured.
    A service outside the list may still call as itself: role `system` with
    its own name as the user.
    """
    if peer is None or not trusted or peer in trusted:
        return
    values = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in (metadata or ())}
    user = values.get(USER, "")
    if not user or (values.get(ROLE) == "system" and user == peer):
        return
    raise PermissionDeniedError(f"service {peer!r} may not assert the identity of {user!r}")
