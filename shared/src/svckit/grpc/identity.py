"""The caller's identity, carried in gRPC metadata and checked in the service layer.

Until mTLS identities arrive (deployment issue), the console and tools assert
who acts through these headers; every mutating handler receives a `Caller`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cityops.common.v1 import common_pb2
from svckit.errors import UnauthenticatedError

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
