"""Intake's own tables (prefixed `intake_` so they never collide in one process)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


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


class DetectionLink(SQLModel, table=True):
    """Which case a detection belongs to; the key makes a second case impossible."""

    __tablename__ = "intake_detection_link"

    detection_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(index=True, max_length=64)
    linked_at: datetime = Field(sa_type=UtcDateTime)
