"""A case (案件) as intake knows it: plain data, no I/O.

Urgency is kept as the CAP 1.2 urgency number of `cityops.common.v1.Urgency`:
intake copies it from the report and never reasons about it, so the domain
needs no enum of its own for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CaseState(StrEnum):
    """Where a case stands in the closed loop (mirrors `cityops.intake.v1.CaseState`)."""

    TRIAGE = "triage"
    FILED = "filed"
    REJECTED = "rejected"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    UNROUTABLE = "unroutable"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    VERIFIED = "verified"
    REWORK = "rework"
    CLOSED = "closed"


class FilingSource(StrEnum):
    """How a case came to be filed: from a detection, or by a person."""

    DETECTION = "detection"
    MANUAL = "manual"


@dataclass(frozen=True)
class Place:
    """A point and the city units (district / street / grid) it resolved to."""

    latitude: float
    longitude: float
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""


@dataclass
class Case:
    """One problem in the city, from filing to closure."""

    case_id: str
    category_code: str
    title: str
    place: Place
    urgency: int
    state: CaseState
    filed_at: datetime
    updated_at: datetime
    source: FilingSource
    # Who filed it: the user for a manual case, the source for a detection.
    filed_by: str = ""
    # The discovery trace: its id, and the traceparent later actions link to.
    trace_id: str = ""
    origin_traceparent: str = ""
    detection_ids: list[str] = field(default_factory=list)
    lead_department_id: str = ""
    deadline: datetime | None = None
    # When the dispatch recorded above was decided: a stale dispatch never overwrites it.
    dispatched_at: datetime | None = None
    # When the current state was reached, by the reporting service's clock:
    # inside the rework loop it tells a new round from a late old one.
    state_at: datetime | None = None


@dataclass(frozen=True)
class Progress:
    """Another service says a case moved (dispatched, accepted, closed, ...).

    `occurred_at` is when it happened at the producer, which is what ordering
    decisions use: delivery order across streams means nothing.
    """

    case_id: str
    target: CaseState
    occurred_at: datetime
    department_id: str = ""
    deadline: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class CaseQuery:
    """A page of cases, newest first, optionally only in some states."""

    states: tuple[CaseState, ...] = ()
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class CasePage:
    """One page of a listing and how many cases match in all."""

    cases: list[Case]
    total: int
    next_offset: int | None
