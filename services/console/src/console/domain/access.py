"""Who may do what in the console: roles, permissions and the principal acting.

The console checks these before it calls a service, so a person sees only the
buttons they may press and a refused request never leaves the console; the
services check again with the identity the console forwards (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from svckit.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    DEPARTMENT_USER = "department_user"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_CASES = "view_cases"  # operations centre, map, board, any case's detail
    TRIAGE = "triage"  # file / reject / merge / reclassify / set urgency
    DISPATCH = "dispatch"  # manual dispatch of an unroutable case
    DECIDE_EXTENSION = "decide_extension"
    ARBITRATE = "arbitrate"
    BACKLOG = "backlog"  # 挂账
    VERIFY = "verify"  # 核查
    CLOSE = "close"  # 结案
    VIEW_ALL_ORDERS = "view_all_orders"
    ACT_ON_OWN_ORDERS = "act_on_own_orders"  # accept, return, progress, complete
    VIEW_LEDGER = "view_ledger"  # timelines, proofs, ledger verification, traces
    VIEW_EVALUATION = "view_evaluation"
    ADMIN = "admin"  # users and departments


_P = Permission
_READ_ALL = frozenset({_P.VIEW_CASES, _P.VIEW_ALL_ORDERS, _P.VIEW_LEDGER})
_CENTRE = _READ_ALL | {_P.TRIAGE, _P.DISPATCH, _P.CLOSE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: _CENTRE,
    Role.SUPERVISOR: _CENTRE
    | {_P.DECIDE_EXTENSION, _P.ARBITRATE, _P.BACKLOG, _P.VERIFY, _P.VIEW_EVALUATION},
    Role.INSPECTOR: frozenset({_P.VIEW_CASES, _P.VIEW_LEDGER, _P.VERIFY}),
    # Read-only everything: no permission here changes anything.
    Role.AUDITOR: _READ_ALL | {_P.VIEW_EVALUATION},
    Role.ADMIN: _READ_ALL | {_P.VIEW_EVALUATION, _P.ADMIN},
    Role.DEPARTMENT_USER: frozenset({_P.ACT_ON_OWN_ORDERS}),
}

READ_ONLY_PERMISSIONS = frozenset(
    {_P.VIEW_CASES, _P.VIEW_ALL_ORDERS, _P.VIEW_LEDGER, _P.VIEW_EVALUATION}
)

# Where each role starts after login.
HOME: dict[Role, str] = {
    Role.OPERATOR: "/",
    Role.SUPERVISOR: "/",
    Role.INSPECTOR: "/",
    Role.AUDITOR: "/audit",
    Role.ADMIN: "/admin",
    Role.DEPARTMENT_USER: "/orders",
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise InvalidArgumentError(f"unknown role {value!r}; one of {known}") from exc


@dataclass(frozen=True)
class Principal:
    """The person acting, as the session (or an identity provider) established them."""

    user_id: str
    role: Role
    department_id: str = ""
    display_name: str = ""

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(
                f"role {self.role.value} may not {permission.value.replace('_', ' ')}"
            )

    @property
    def home(self) -> str:
        return HOME[self.role]

    @property
    def read_only(self) -> bool:
        return ROLE_PERMISSIONS[self.role] <= READ_ONLY_PERMISSIONS


def check_binding(role: Role, department_id: str) -> None:
    """A department user belongs to exactly one department; others may name their unit."""
    if role is Role.DEPARTMENT_USER and not department_id:
        raise InvalidArgumentError("a department_user must be bound to a department")


def ensure_own_order(principal: Principal, order_id: str, department_id: str) -> None:
    """Another department's order is reported absent, as workorders does: its
    existence is not theirs to know."""
    if principal.role is Role.DEPARTMENT_USER and principal.department_id != department_id:
        raise NotFoundError(f"work order {order_id} not found")
