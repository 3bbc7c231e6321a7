"""Dispatch's own tables (beside svckit's outbox, inbox and dead letters)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class DispatchDecisionRow(SQLModel, table=True):
    """One row per filed case: where it was sent (or why it could not be).

    ``case_id`` is unique so that a CaseFiled delivered twice, even under a
    new message id, can never dispatch the same case twice.
    """

    __tablename__ = "dispatch_decision"

    dispatch_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    category_code: str = Field(max_length=16)
    district_code: str = Field(max_length=32)
    outcome: str = Field(max_length=16, index=True)
    decided_at: datetime = Field(sa_type=UtcDateTime)
    department_id: str = Field(default="", max_length=64, index=True)
    rule_id: str = Field(default="", max_length=128)
    rule_version: str = Field(default="", max_length=32)
    handling_hours: int = 0
    deadline: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str = ""
    origin_traceparent: str = Field(default="", max_length=64)
