"""Rules for local accounts: names, passwords and departments.

Local accounts are the default identity source; an OIDC provider can replace
them (see service_layer.identity), in which case only departments stay here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.domain.access import Role, check_binding
from svckit.errors import FailedPreconditionError, InvalidArgumentError

_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_DEPARTMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 accepts more; a bound keeps hashing cheap to refuse


@dataclass(frozen=True)
class NewUser:
    user_id: str
    role: Role
    department_id: str = ""
    display_name: str = ""


@dataclass(frozen=True)
class Department:
    department_id: str
    name_zh: str
    name_en: str
    district_code: str = ""


def check_user_id(user_id: str) -> str:
    if not _USER_ID.match(user_id):
        raise InvalidArgumentError(
            "user id: 2–64 characters, letters, digits and . _ @ -, starting with a letter or digit"
        )
    return user_id


def check_department_id(department_id: str) -> str:
    if not _DEPARTMENT_ID.match(department_id):
        raise InvalidArgumentError(
            "department id: 1–64 characters, letters, digits, _ and -, starting with a letter or digit"
        )
    return department_id


def check_password(password: str) -> str:
    """Length is what matters for a passphrase; no composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgumentError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgumentError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


def new_user(user_id: str, role: Role, department_id: str = "", display_name: str = "") -> NewUser:
    check_user_id(user_id)
    if department_id:
        check_department_id(department_id)
    check_binding(role, department_id)
    return NewUser(user_id, role, department_id, display_name.strip()[:100] or user_id)


def new_department(
    department_id: str, name_zh: str, name_en: str = "", district_code: str = ""
) -> Department:
    check_department_id(department_id)
    if not name_zh.strip():
        raise InvalidArgumentError("a department needs a Chinese name")
    return Department(
        department_id, name_zh.strip(), name_en.strip() or name_zh.strip(), district_code
    )


@dataclass(frozen=True)
class User:
    """A stored account, as the service layer sees it."""

    user_id: str
    role: Role
    department_id: str
    display_name: str
    password_hash: str
    active: bool


@dataclass(frozen=True)
class Administrator:
    """Who changes accounts, as the ledger will name them: a person through the
    admin screens (with the address they came from), or the CLI or the demo
    seed acting as the system (`role` None)."""

    user_id: str
    role: Role | None
    department_id: str = ""
    client_address: str = ""


CLI_ADMINISTRATOR = Administrator("cli", None)
SEED_ADMINISTRATOR = Administrator("seed-demo-users", None)


@dataclass(frozen=True)
class AccountEdit:
    """A change to an account's role, department, display name or state;
    None keeps the value."""

    role: Role | None = None
    department_id: str | None = None
    display_name: str | None = None
    active: bool | None = None

    @property
    def empty(self) -> bool:
        return (
            self.role is None
            and self.department_id is None
            and self.display_name is None
            and self.active is None
        )


def edited(user: User, edit: AccountEdit) -> NewUser:
    """The account after `edit`, validated like a new one."""
    if edit.empty:
        raise InvalidArgumentError(
            "nothing to change: give role, department_id, display_name or active"
        )
    role = edit.role or user.role
    department_id = user.department_id if edit.department_id is None else edit.department_id
    name = user.display_name if edit.display_name is None else edit.display_name
    return new_user(user.user_id, role, department_id, name)


def check_not_self_lockout(by: Administrator, user_id: str, *, role: Role, active: bool) -> None:
    """An administrator may not lock themselves out (demote or deactivate their
    own account): the city would be left without anyone to undo it."""
    if by.user_id == user_id and (role is not Role.ADMIN or not active):
        raise FailedPreconditionError(
            "administrators may not demote or deactivate their own account; ask another administrator"
        )
