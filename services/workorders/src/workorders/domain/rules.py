"""The rules of work orders: who may see and act, and what a department's
requests must carry. Pure functions, so every rule is tested without a
database or a server. Which state may follow which is in `states`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol

from svckit.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError

DEPARTMENT_USER = "department_user"
# Roles that oversee every department, read-only: the operations centre
# (operators, supervisors), inspectors (核查 needs the order and its photos),
# audit and administrators.
READ_ALL_ROLES = frozenset({"operator", "supervisor", "inspector", "auditor", "admin"})

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_NOTE_CHARS = 4000
MAX_EXTENSION_HOURS = 720
MAX_CITED_EVIDENCE = 50
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class ReturnReason(StrEnum):
    """Why a department hands an order back (退单)."""

    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    WRONG_CATEGORY = "wrong_category"
    DUPLICATE = "duplicate"
    CANNOT_LOCATE = "cannot_locate"
    OTHER = "other"


class Principal(Protocol):
    """Who acts: the service layer passes the caller it authenticated."""

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def department_id(self) -> str: ...


def read_scope(actor: Principal) -> str | None:
    """The one department this actor may read, or None for all of them.

    Roles not named here (systems) have no business with orders.
    """
    if actor.role == DEPARTMENT_USER:
        return actor.department_id
    if actor.role in READ_ALL_ROLES:
        return None
    raise PermissionDeniedError(f"role {actor.role!r} may not read work orders")


def ensure_visible(actor: Principal, order_id: str, department_id: str) -> None:
    """Another department's order is reported as absent: its existence is not theirs to know."""
    scope = read_scope(actor)
    if scope is not None and scope != department_id:
        raise NotFoundError(f"work order {order_id} not found")


def ensure_may_act(actor: Principal, department_id: str, action: str) -> None:
    """Only users of the owning department act on its orders."""
    if actor.role != DEPARTMENT_USER or actor.department_id != department_id:
        raise PermissionDeniedError(
            f"only a user of the owning department may {action} this work order"
        )


def require_request_id(request_id: str) -> str:
    """Mutations are idempotent by request_id, so one must be given."""
    if not request_id.strip():
        raise InvalidArgumentError("request_id is required")
    return request_id


def require_text(text: str, what: str) -> str:
    """A note or reason people will read: present and of bounded length."""
    text = text.strip()
    if not text:
        raise InvalidArgumentError(f"a {what} is required")
    return bounded_text(text, what)


def bounded_text(text: str, what: str) -> str:
    """Optional text, stripped, of bounded length."""
    text = text.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidArgumentError(f"the {what} exceeds {MAX_NOTE_CHARS} characters")
    return text


def require_note(note: str) -> str:
    """Feedback must say what was done; the auditor verifies against it."""
    return require_text(note, "completion note")


def return_note(reason: ReturnReason, note: str) -> str:
    """'Other' says nothing by itself, so it needs a note; the rest may add one."""
    if reason is ReturnReason.OTHER:
        return require_text(note, "note for a return with reason other")
    return bounded_text(note, "return note")


def extension_hours(hours: int) -> int:
    if not 0 < hours <= MAX_EXTENSION_HOURS:
        raise InvalidArgumentError(f"requested_hours must be 1…{MAX_EXTENSION_HOURS}, not {hours}")
    return hours


def check_evidence(uri: str, sha256: str, size_bytes: int) -> None:
    """Evidence is pinned by its SHA-256 so it cannot be swapped after the fact."""
    if not uri.strip():
        raise InvalidArgumentError("evidence needs a uri")
    if not _SHA256.fullmatch(sha256):
        raise InvalidArgumentError(f"evidence {uri} needs a sha256 of 64 hex digits")
    if size_bytes < 0:
        raise InvalidArgumentError(f"evidence {uri} has a negative size")


def page_size(requested: int) -> int:
    """A bounded page: 0 means the default, more than the maximum is capped."""
    if requested < 0:
        raise InvalidArgumentError("page_size must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def require_dispatch_fields(*, dispatch_id: str, case_id: str, department_id: str) -> None:
    """A dispatch without these cannot become an order anyone could act on."""
    missing = [
        name
        for name, value in (
            ("dispatch_id", dispatch_id),
            ("case_id", case_id),
            ("department_id", department_id),
        )
        if not value
    ]
    if missing:
        raise InvalidArgumentError(f"dispatch lacks {', '.join(missing)}")
