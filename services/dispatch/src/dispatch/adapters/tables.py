"""Dispatch's own tables (beside svckit's outbox, inbox and dead letters).

Names are prefixed ``dispatch_`` so two services' tables never collide in
one process. Lists and maps are JSON text; durations are seconds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class RuleVersionRow(SQLModel, table=True):
    """One recorded version of a responsibility rule; rows are only ever added."""

    __tablename__ = "dispatch_rule_version"
    __table_args__ = (UniqueConstraint("rule_id", "version", name="uq_dispatch_rule_version"),)

    version_id: str = Field(primary_key=True, max_length=64)
    rule_id: str = Field(max_length=128, index=True)
    version: int
    body: str  # the rule in its YAML shape, as JSON
    retired: bool = False
    source: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    recorded_by: str = Field(default="", max_length=128)
    declared_hash: str = Field(default="", max_length=64)


class CaseRow(SQLModel, table=True):
    """Dispatch's view of a case: one row per case, so a case is opened once."""

    __tablename__ = "dispatch_case"

    case_id: str = Field(primary_key=True, max_length=64)
    category_code: str = Field(max_length=16)
    district_code: str = Field(max_length=32)
    street_code: str = Field(default="", max_length=32)
    grid_code: str = Field(default="", max_length=32)
    latitude: float | None = None
    longitude: float | None = None
    title: str = ""
    urgency: str = Field(default="default", max_length=16)
    state: str = Field(max_length=16, index=True)
    received_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    attempt: int = 0
    returns: int = 0
    returned_by: str = "[]"
    reason: str = ""
    origin_traceparent: str = Field(default="", max_length=64)
    verification_deadline: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AssignmentRow(SQLModel, table=True):
    """One department's share of a case from one decision (lead or assist, per attempt)."""

    __tablename__ = "dispatch_assignment"

    dispatch_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(sa_column=Column(String(64), index=True, nullable=False))
    department_id: str = Field(max_length=64, index=True)
    role: str = Field(max_length=8)
    attempt: int
    position: int = 0
    rule_id: str = Field(default="", max_length=128)
    rule_version: str = Field(
        default="", max_length=64
    )  # a catalogue version, or the arbitration (ARB-<uuid>) that decided it
    team_id: str = Field(default="", max_length=64, index=True)
    dispatched_at: datetime = Field(sa_type=UtcDateTime)
    deadline: datetime = Field(sa_type=UtcDateTime)
    lead_department_id: str = Field(default="", max_length=64)
    status: str = Field(max_length=16, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str = ""
    lost_seconds: float = 0.0


class TimerRow(SQLModel, table=True):
    """A durable escalation timer; the timer loop claims due PENDING rows."""

    __tablename__ = "dispatch_timer"
    __table_args__ = (Index("ix_dispatch_timer_due", "status", "fire_at"),)

    timer_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=64, index=True)
    dispatch_id: str = Field(default="", max_length=64, index=True)
    department_id: str = Field(default="", max_length=64)
    stage: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    level: int
    fire_at: datetime = Field(sa_type=UtcDateTime)
    started_at: datetime = Field(sa_type=UtcDateTime)
    deadline: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=16)
    fired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ExtensionRow(SQLModel, table=True):
    """A 延期 request from a department, and the centre's decision."""

    __tablename__ = "dispatch_extension"

    extension_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=64, index=True)
    dispatch_id: str = Field(default="", max_length=64)
    order_id: str = Field(default="", max_length=64)
    department_id: str = Field(default="", max_length=64)
    requested_seconds: float
    reason: str = ""
    requested_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=16, index=True)
    granted_seconds: float = 0.0
    new_deadline: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decided_by: str = Field(default="", max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    note: str = ""


class ArbitrationRow(SQLModel, table=True):
    """A case returned too often; once decided, who took it and the time lost per department."""

    __tablename__ = "dispatch_arbitration"

    arbitration_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=64, index=True)
    requested_at: datetime = Field(sa_type=UtcDateTime)
    reason: str = ""
    returned_by: str = "[]"
    status: str = Field(max_length=16, index=True)
    outcome: str = Field(default="", max_length=16)
    department_id: str = Field(default="", max_length=64)
    decided_by: str = Field(default="", max_length=128)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    note: str = ""
    lost_seconds: str = "{}"  # {department_id: seconds}


class SuspensionRow(SQLModel, table=True):
    """One 挂账 of a case and, once resumed, when and by whom (the time suspended)."""

    __tablename__ = "dispatch_suspension"

    suspension_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=64, index=True)
    from_state: str = Field(max_length=16)
    from_reason: str = ""
    reason: str = ""
    backlogged_at: datetime = Field(sa_type=UtcDateTime)
    backlogged_by: str = Field(default="", max_length=128)
    resumed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    resumed_by: str = Field(default="", max_length=128)
    note: str = ""
