"""Live updates: which events the browsers hear about, in what small form,
and who may hear each one.

The console listens to every `cityops.>` subject; the screens only need to
know that a case or an order changed (they fetch the rest). High-volume
machine traffic (detections, discards) never reaches a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from console.domain.access import Permission, Principal, Role

# Subjects the browsers never see: detections arrive thousands a second.
QUIET_SUBJECTS = frozenset(
    {"cityops.detection.detection.reported", "cityops.intake.detection.discarded"}
)


@dataclass(frozen=True)
class LiveEvent:
    """What a browser is told: enough to refresh the right part of a screen."""

    subject: str
    # The proto's short name, e.g. "CaseFiled".
    kind: str
    case_id: str
    order_id: str = ""
    department_id: str = ""
    state: str = ""
    at: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _first(fields: Mapping[str, Any], *names: str) -> str:
    """The first of `names` found at the top level or one message down."""
    for name in names:
        if isinstance(fields.get(name), str) and fields[name]:
            return str(fields[name])
    for value in fields.values():
        if isinstance(value, Mapping):
            found = _first(value, *names)
            if found:
                return found
    return ""


def summarise(
    subject: str, event_type: str, case_id: str, at: str, fields: Mapping[str, Any]
) -> LiveEvent | None:
    """The small event for browsers, or None for traffic they must not get."""
    if subject in QUIET_SUBJECTS:
        return None
    return LiveEvent(
        subject=subject,
        kind=event_type.rsplit(".", 1)[-1],
        case_id=case_id or _first(fields, "case_id"),
        order_id=_first(fields, "order_id"),
        department_id=_first(fields, "department_id", "lead_department_id"),
        state=_first(fields, "state"),
        at=at,
    )


def may_hear(principal: Principal, event: LiveEvent) -> bool:
    """Centre staff and auditors hear everything; a department only its own orders."""
    if principal.can(Permission.VIEW_CASES):
        return True
    return bool(
        principal.role is Role.DEPARTMENT_USER
        and event.department_id
        and event.department_id == principal.department_id
    )
