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
    IN_PROGRESS = "in_progress"
    RETURNED = "returned"
    BACKLOGGED = "backlogged"


FINAL = frozenset({CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED})
"""States nothing moves a case out of; its fusion index entry is gone."""


class FilingSource(StrEnum):
    """How a case came to be filed: from a detection, or by a person."""

    DETECTION = "detection"
    MANUAL = "manual"


class RejectReason(StrEnum):
    """Why a case was not filed (不予立案); mirrors `cityops.intake.v1.RejectReason`."""

    NOT_IN_SCOPE = "not_in_scope"
    DUPLICATE = "duplicate"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    FALSE_ALARM = "false_alarm"
    WITHDRAWN = "withdrawn"
    OTHER = "other"


@dataclass(frozen=True)
class Place:
    """A point and the city units (district / street / grid) it resolved to."""

    latitude: float
    longitude: float
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""


@dataclass(frozen=True)
class Evidence:
    """A piece of evidence held elsewhere, pinned by its hash (as the source gave it)."""

    uri: str
    sha256: str = ""
    media_type: str = ""
    size_bytes: int = 0


@dataclass
class Case:
    """One problem in the city, from filing to closure.

    `detection_ids`, `evidence` and `withdrawn_detection_ids` come from the link
    rows and are filled only when a case is read whole (GetCase, ListCases, a
    new case); the hot fusion path reads the case without them and keeps
    `detection_count` instead.
    """

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
    detection_count: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    withdrawn_detection_ids: list[str] = field(default_factory=list)
    # The strongest score seen per source (device or source id), fused into `certainty`.
    source_scores: dict[str, float] = field(default_factory=dict)
    certainty: float = 0.0
    lead_department_id: str = ""
    deadline: datetime | None = None
    # When the dispatch recorded above was decided: a stale dispatch never overwrites it.
    dispatched_at: datetime | None = None
    # Departments that assist (协办) and departments that led earlier rounds: their
    # work-order events say nothing about the case's own state.
    assist_department_ids: list[str] = field(default_factory=list)
    released_department_ids: list[str] = field(default_factory=list)
    # When the current state was reached, by the reporting service's clock:
    # events older than this are history arriving late.
    state_at: datetime | None = None
    # 督办: the highest level since the lead dispatch, and when it was raised.
    escalation_level: int = 0
    escalated_at: datetime | None = None
    # Dispatch asked for an arbitration (returns exhausted the catalogue) at this time.
    arbitration_requested_at: datetime | None = None
    # While in 挂账: the state (and its time) the case stood in, which resuming restores.
    state_before_backlog: CaseState | None = None
    state_before_backlog_at: datetime | None = None
    reject_reason: RejectReason | None = None
    duplicate_of: str = ""
    triage_note: str = ""

    @property
    def is_open(self) -> bool:
        return self.state not in FINAL

    @property
    def arbitration_requested(self) -> bool:
        """Waiting for arbitration: asked for after the latest dispatch, not yet settled."""
        asked = self.arbitration_requested_at
        if asked is None or not self.is_open or self.state is CaseState.BACKLOGGED:
            return False
        return self.dispatched_at is None or asked > self.dispatched_at


@dataclass(frozen=True)
class Progress:
    """Another service says a case moved (dispatched, accepted, returned, closed, ...).

    `occurred_at` is when it happened at the producer, which is what ordering
    decisions use: delivery order across streams means nothing.
    `from_department` marks work-order events, which speak for the case only
    when their department leads it; `assist` marks a report about an assisting
    (协办) department's share, which never moves the case.
    """

    case_id: str
    target: CaseState
    occurred_at: datetime
    department_id: str = ""
    deadline: datetime | None = None
    reason: str = ""
    dispatch: DispatchFacts | None = None
    from_department: bool = False
    assist: bool = False


@dataclass(frozen=True)
class DispatchFacts:
    """What a (re-)dispatch says about responsibility, beside the state it moves to."""

    department_id: str
    # The lead named by an assisting dispatch, if the producer said.
    lead_department_id: str = ""


@dataclass(frozen=True)
class Escalation:
    """督办 raised on a case: a flag with a level, never a state."""

    case_id: str
    level: int
    occurred_at: datetime


@dataclass(frozen=True)
class ArbitrationRequest:
    """Dispatch found no one left to route a returned case to."""

    case_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class Resumption:
    """Dispatch took the case out of 挂账 (``CaseResumed``).

    `fallback` is the state dispatch says it is back in, for a case whose
    state before 挂账 intake did not record; `deadlines` are the moved
    deadlines by department (the lead's is the case's).
    """

    case_id: str
    occurred_at: datetime
    fallback: CaseState
    deadlines: tuple[tuple[str, datetime], ...] = ()


CaseSignal = Progress | Escalation | ArbitrationRequest | Resumption
"""Anything another service tells intake about a case it filed."""


@dataclass(frozen=True)
class CaseQuery:
    """A page of cases, newest first (or oldest first for a queue), optionally by state."""

    states: tuple[CaseState, ...] = ()
    offset: int = 0
    limit: int = 50
    oldest_first: bool = False


@dataclass(frozen=True)
class CasePage:
    """One page of a listing and how many cases match in all."""

    cases: list[Case]
    total: int
    next_offset: int | None
