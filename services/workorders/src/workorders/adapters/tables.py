"""The workorders store. Table names carry the service prefix so two services'
tables never collide when tests run them in one process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class WorkOrderRow(SQLModel, table=True):
    """One department's order for one dispatch; `dispatch_id` is unique so a
    redelivered dispatch can never create a second order."""

    __tablename__ = "workorders_order"

    order_id: str = Field(primary_key=True, max_length=64)
    dispatch_id: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    case_id: str = Field(index=True, max_length=64)
    department_id: str = Field(index=True, max_length=64)
    state: str = Field(index=True, max_length=16)
    category_code: str = ""
    title: str = ""
    latitude: float | None = None
    longitude: float | None = None
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""
    has_place: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)
    deadline: datetime | None = Field(default=None, sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    accepted_by: str = ""
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_by: str = ""
    completion_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # JSON list of {uri, sha256, media_type, size_bytes}.
    evidence: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    # The traceparent of the case's discovery trace (from the dispatch event).
    case_traceparent: str = ""
