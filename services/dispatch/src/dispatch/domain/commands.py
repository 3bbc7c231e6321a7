"""Requests the service layer answers, independent of gRPC or the command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dispatch.domain.oversight import ArbitrationOutcome


@dataclass(frozen=True)
class WhoWouldReceive:
    """Who would receive a case of ``category_code`` at this point at ``at`` (``None``: now)."""

    category_code: str
    latitude: float
    longitude: float
    at: datetime | None = None
    urgency: str = "default"


@dataclass(frozen=True)
class GetDispatch:
    """The dispatch decisions recorded for a case."""

    case_id: str


@dataclass(frozen=True)
class ListRules:
    rule_id: str = ""
    include_history: bool = False


@dataclass(frozen=True)
class UpsertRule:
    """A new version of a rule, in its YAML shape (``effective_from`` may be missing: today)."""

    request_id: str
    rule: Mapping[str, Any]


@dataclass(frozen=True)
class RetireRule:
    request_id: str
    rule_id: str
    effective_to: date | None = None


@dataclass(frozen=True)
class DispatchManually:
    request_id: str
    case_id: str
    department_id: str
    assist_department_ids: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Arbitrate:
    request_id: str
    case_id: str
    outcome: ArbitrationOutcome
    department_id: str = ""
    note: str = ""


@dataclass(frozen=True)
class DecideExtension:
    request_id: str
    extension_id: str
    approve: bool
    hours: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class Backlog:
    request_id: str
    case_id: str
    reason: str


@dataclass(frozen=True)
class Resume:
    """Out of 挂账: the case's clocks run again, its deadlines later by the time suspended."""

    request_id: str
    case_id: str
    note: str = ""
