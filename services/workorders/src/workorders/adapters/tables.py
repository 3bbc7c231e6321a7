"""The workorders store. Table names carry the service prefix so two services'
tables never collide when tests run them in one process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class WorkOrderRow(SQLModel, table=True):
    """One department's order for one dispatch; `dispatch_id` is unique so a
    redelivered dispatch can never create a second order, and so is
    (case, department, role, attempt)."""

    __tablename__ = "workorders_order"
    __table_args__ = (
        UniqueConstraint("case_id", "department_id", "role", "attempt", name="uq_workorders_key"),
    )

    order_id: str = Field(primary_key=True, max_length=64)
    dispatch_id: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    case_id: str = Field(index=True, max_length=64)
    department_id: str = Field(index=True, max_length=64)
    state: str = Field(index=True, max_length=32)
    role: str = Field(default="lead", max_length=16)
    attempt: int = 1
    lead_department_id: str = ""
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
    # JSON list of {uri, sha256, media_type, size_bytes}: what the completion cited.
    evidence: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    # The traceparent of the case's discovery trace (from the dispatch event).
    case_traceparent: str = ""
    returned_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    returned_by: str = ""
    return_reason: str = ""
    return_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    progressed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    progress_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    extension_id: str = ""
    extension_hours: int = 0
    extension_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    extension_requested_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    extension_resume_state: str = ""
    reopened_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reopen_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    rework_count: int = 0
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancel_reason: str = ""
    escalation_level: int = 0
    escalated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class EvidenceRow(SQLModel, table=True):
    """One uploaded file: where it is in the object store and the hash it must still have."""

    __tablename__ = "workorders_evidence"

    evidence_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(index=True, max_length=64)
    case_id: str = Field(max_length=64)
    department_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    file_name: str = ""
    media_type: str = ""
    size_bytes: int = 0
    sha256: str = Field(max_length=64)
    bucket: str = ""
    key: str = ""
    uploaded_at: datetime = Field(sa_type=UtcDateTime, index=True)
    uploaded_by: str = ""
    captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    latitude: float | None = None
    longitude: float | None = None
    # JSON list of {code, detail}.
    flags: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class WebhookDeliveryRow(SQLModel, table=True):
    """A notification owed to a department, written in the transaction of the
    change it announces (an outbox for webhooks); sent by the delivery loop."""

    __tablename__ = "workorders_webhook_delivery"

    delivery_id: str = Field(primary_key=True, max_length=64)
    department_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=32)
    order_id: str = Field(index=True, max_length=64)
    case_id: str = Field(max_length=64)
    url: str = ""
    body: bytes = b""
    status: str = Field(index=True, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime, index=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_status_code: int | None = None
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class WebhookAttemptRow(SQLModel, table=True):
    """Every attempt at a delivery, kept: when, what came back, what went wrong."""

    __tablename__ = "workorders_webhook_attempt"

    delivery_id: str = Field(primary_key=True, max_length=64)
    attempt: int = Field(primary_key=True)
    attempted_at: datetime = Field(sa_type=UtcDateTime)
    status_code: int | None = None
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    duration_ms: int = 0
