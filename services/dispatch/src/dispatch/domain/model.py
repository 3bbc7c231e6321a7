"""What dispatch decides and records: routing answers, cases, assignments.

A case (``CaseFile``) is dispatch's view of one filed case: where it is,
what it is, where it stands. Each time a department is made responsible
for it, lead (主办) or assisting (协办), that is an ``Assignment`` with its
own dispatch id, attempt number, deadline and the rule version that made
it. A return, an arbitration or a reclassification adds assignments; none
is rewritten except to record how it ended, to move its deadline (延期,
挂账, a new urgency), or to reopen it for rework (返工), when the
department's work order comes back under the same dispatch id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.domain.areas import Place
from dispatch.domain.stages import Stage
from svckit.reference import DepartmentType
from svckit.reference.problems import ReferenceFileError


class ResponsibilityError(ReferenceFileError):
    """A reference file or catalogue change is unusable; ``problems`` lists each one.

    Loading reports every problem at once, each naming its entry (a rule id or
    a department id), so one edit-and-reload fixes the whole file rather than
    one mistake per restart.
    """


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
    """The catalogue's answer for one category, place, urgency and date.

    ``department_id`` is empty when the winning rule is ``manual``.
    """

    department_id: str
    rule_id: str
    rule_version: str
    stage_hours: Mapping[Stage, timedelta]
    assist_ids: tuple[str, ...] = ()
    manual: bool = False
    closing_criteria_zh: str = ""
    closing_criteria_en: str = ""

    __hash__ = None  # type: ignore[assignment]

    @property
    def disposal(self) -> timedelta:
        return self.stage_hours[Stage.DISPOSAL]

    @property
    def handling_hours(self) -> int:
        """处置 working hours, rounded up to whole hours (the first contract's field)."""
        return math.ceil(self.disposal.total_seconds() / 3600)


@dataclass(frozen=True)
class RoutingAnswer:
    """Who would receive a category at a point: the place found and the decision."""

    place: Place
    decision: Decision

    @property
    def district_code(self) -> str:
        return self.place.district_code


class CaseState(StrEnum):
    """Where a case stands as far as dispatch is concerned."""

    DISPATCHED = "dispatched"
    UNROUTABLE = "unroutable"  # in the manual dispatch queue
    ARBITRATION = "arbitration"  # returned too often; waits for a supervisor
    BACKLOGGED = "backlogged"  # 挂账: clock stopped
    COMPLETED = "completed"  # the lead reported done; 核查 is running
    CLOSED = "closed"  # 结案, or merged into another case


class Role(StrEnum):
    LEAD = "lead"  # 主办
    ASSIST = "assist"  # 协办


class AssignmentStatus(StrEnum):
    ACTIVE = "active"
    RETURNED = "returned"
    COMPLETED = "completed"
    SUPERSEDED = "superseded"  # reclassified, merged or closed before it finished


@dataclass
class CaseFile:
    """Dispatch's view of one filed case (what it needs to route it again later)."""

    case_id: str
    category_code: str
    place: Place
    title: str
    urgency: str
    state: CaseState
    received_at: datetime
    updated_at: datetime
    attempt: int = 0
    # Returns by lead departments (退单), and who returned it, in order.
    returns: int = 0
    returned_by: list[str] = field(default_factory=list)
    reason: str = ""
    # The traceparent of the CaseFiled event, so later actions link to the case's trace.
    origin_traceparent: str = ""
    verification_deadline: datetime | None = None

    @property
    def district_code(self) -> str:
        return self.place.district_code


@dataclass
class Assignment:
    """One department's share of a case, from one decision."""

    dispatch_id: str
    case_id: str
    department_id: str
    role: Role
    attempt: int
    rule_id: str
    rule_version: str
    dispatched_at: datetime
    deadline: datetime
    lead_department_id: str
    team_id: str = ""
    # Position within its decision: the lead 0, assisting departments 1, 2, ...
    order: int = 0
    status: AssignmentStatus = AssignmentStatus.ACTIVE
    ended_at: datetime | None = None
    end_reason: str = ""
    # Working time the department held the case before returning it (time lost).
    lost: timedelta = timedelta(0)

    @property
    def active(self) -> bool:
        return self.status is AssignmentStatus.ACTIVE

    def end(self, status: AssignmentStatus, at: datetime, reason: str) -> None:
        self.status, self.ended_at, self.end_reason = status, at, reason

    def reopen(self, deadline: datetime) -> None:
        """返工: a completed share is active again with a new deadline."""
        self.status, self.ended_at, self.end_reason = AssignmentStatus.ACTIVE, None, ""
        self.deadline = deadline
