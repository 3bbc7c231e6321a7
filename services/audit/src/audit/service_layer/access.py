"""Who is asking, as the domain sees them, and whether their role allows it."""

from __future__ import annotations

from audit.domain import rules
from audit.domain.model import Party
from svckit.grpc.identity import Caller


def party(caller: Caller) -> Party:
    return Party(user_id=caller.user_id, department_id=caller.department_id, role=caller.role)


def require(caller: Caller, roles: frozenset[str], action: str) -> Party:
    """The caller as a Party, refused unless their role may take the action."""
    who = party(caller)
    rules.require_role(who, roles, action)
    return who
