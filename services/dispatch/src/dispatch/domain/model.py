"""What dispatch decides and records: departments, routing answers, dispatch records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from svckit.reference import DepartmentType


class ResponsibilityError(ValueError):
    """A departments or responsibility file is unusable; ``problems`` lists each one.

    Loading reports every problem at once, each naming its entry (a rule id or
    a department id), so one edit-and-reload fixes the whole file rather than
    one mistake per restart.
    """

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {source}: {len(self.problems)} problem(s)\n{lines}")


@dataclass(frozen=True)
class Department:
    """A 责任单位 that receives cases; one per (district, type) in the sample city."""

    id: str
    name_zh: str
    name_en: str
    type: DepartmentType
    district_code: str


@dataclass(frozen=True)
class Decision:
    """The answer of the responsibility matrix for one category, district and date."""

    department_id: str
    rule_id: str
    rule_version: str
    handling_hours: int

    def deadline(self, dispatched_at: datetime) -> datetime:
        """When the department must have finished; see ``deadline_for``."""
        return deadline_for(dispatched_at, self.handling_hours)


def deadline_for(dispatched_at: datetime, handling_hours: int) -> datetime:
    """处置时限 end: ``dispatched_at`` plus ``handling_hours`` plain clock hours.

    The catalogue's hours are meant as *working* hours (工作时) on the city's
    holiday calendar; working-time calendars arrive in a later issue, and until
    then a deadline counts nights, weekends and holidays like any other hour.
    That only makes deadlines earlier than they will be, never later.
    """
    return dispatched_at + timedelta(hours=handling_hours)


@dataclass(frozen=True)
class RoutingAnswer:
    """Who would receive a category at a point: the district found and the decision."""

    district_code: str
    decision: Decision


class Outcome(StrEnum):
    """How a filed case left dispatch."""

    DISPATCHED = "dispatched"
    UNROUTABLE = "unroutable"


@dataclass(frozen=True)
class DispatchRecord:
    """One filed case's dispatch decision, kept once per case.

    ``department_id``, ``rule_*``, ``handling_hours`` and ``deadline`` are set
    only when dispatched; ``reason`` only when unroutable.
    """

    dispatch_id: str
    case_id: str
    category_code: str
    district_code: str
    outcome: Outcome
    decided_at: datetime
    department_id: str = ""
    rule_id: str = ""
    rule_version: str = ""
    handling_hours: int = 0
    deadline: datetime | None = None
    reason: str = ""
    # The traceparent of the CaseFiled event, so later actions link to the case's trace.
    origin_traceparent: str = ""
