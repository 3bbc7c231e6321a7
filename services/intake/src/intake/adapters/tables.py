"""Intake's own tables (prefixed `intake_` so they never collide in one process)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


class CaseRow(SQLModel, table=True):
    """One case; `state` holds the domain state's value."""

    __tablename__ = "intake_case"

    case_id: str = Field(primary_key=True, max_length=64)
    category_code: str = Field(max_length=16)
    title: str
    latitude: float
    longitude: float
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""
    urgency: int = 0
    state: str = Field(index=True, max_length=16)
    filed_at: datetime = Field(sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    source: str = Field(max_length=16)
    filed_by: str = ""
    trace_id: str = Field(default="", max_length=32)
    origin_traceparent: str = ""
    lead_department_id: str = ""
    deadline: datetime | None = Field(default=None, sa_type=UtcDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    detection_count: int = 0
    certainty: float = 0.0
    source_scores: dict[str, float] = _json({})
    assist_department_ids: list[str] = _json([])
    released_department_ids: list[str] = _json([])
    escalation_level: int = 0
    escalated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    arbitration_requested_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # In 挂账: the state before it ("" when not in 挂账), which resuming restores.
    state_before_backlog: str = Field(default="", max_length=16)
    state_before_backlog_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reject_reason: str = ""
    duplicate_of: str = ""
    triage_note: str = ""


class DetectionLink(SQLModel, table=True):
    """Which case a detection belongs to; the key makes a second case impossible.

    It also keeps what the case needs of the detection later: its source and
    score (certainty is recomputed when one is withdrawn) and its evidence.
    """

    __tablename__ = "intake_detection_link"

    detection_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(index=True, max_length=64)
    linked_at: datetime = Field(sa_type=UtcDateTime)
    idempotency_key: str = Field(default="", index=True, max_length=256)
    source_key: str = ""
    score: float | None = None
    evidence: list[dict[str, Any]] = _json([])
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_reason: str = ""
    # A cleared detection (the alarm ended) still counts; a cancelled one does not.
    cancelled: bool = False


class FusionEntryRow(SQLModel, table=True):
    """The fusion index: one row per open case, bucketed by grid cell and component.

    Deleted when the case reaches a final state, so the index only ever holds
    what a detection could still join.
    """

    __tablename__ = "intake_fusion_entry"
    __table_args__ = (
        Index("ix_intake_fusion_cell", "category_code", "cell_row", "cell_col"),
        Index("ix_intake_fusion_component", "category_code", "component_key"),
    )

    case_id: str = Field(primary_key=True, max_length=64)
    category_code: str = Field(max_length=16)
    cell_row: int | None = None
    cell_col: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    component_key: str = Field(default="", max_length=256)
    first_observed_at: datetime = Field(sa_type=UtcDateTime)
    last_observed_at: datetime = Field(sa_type=UtcDateTime)


class DiscardRow(SQLModel, table=True):
    """A detection recorded without a case (below the policy, unknown 小类, withdrawn)."""

    __tablename__ = "intake_discarded_detection"

    detection_id: str = Field(primary_key=True, max_length=128)
    idempotency_key: str = Field(default="", index=True, max_length=256)
    category_code: str = Field(default="", max_length=16)
    confidence: float = 0.0
    threshold: float = 0.0
    reason: str = Field(max_length=32, index=True)
    note: str = ""
    source_id: str = ""
    source_kind: str = ""
    discarded_at: datetime = Field(sa_type=UtcDateTime, index=True)
