"""Audit's own tables (prefixed `audit_` so they never collide in one process)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class LedgerEntryRow(SQLModel, table=True):
    """One recorded event. Rows are only ever inserted; `sequence` is assigned
    in the inserting transaction, and `event_id` is unique so a redelivered
    event can never be appended twice."""

    __tablename__ = "audit_ledger_entry"

    sequence: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    case_id: str = Field(default="", index=True)
    event_id: str = Field(unique=True, max_length=128)
    event_type: str
    subject: str
    producer: str
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    actor_user_id: str = ""
    department_id: str = ""
    summary: str = ""
    trace_id: str = ""
    span_id: str = ""
    payload_sha256: str
    previous_hash: str
    entry_hash: str
    # Not hashed: an index putting a detection on its case's timeline.
    detection_id: str = Field(default="", index=True)


class DetectionCaseRow(SQLModel, table=True):
    """detection → case, learned from CaseFiled.case.detection_ids."""

    __tablename__ = "audit_detection_case"

    detection_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(index=True)


class CaseRow(SQLModel, table=True):
    """A case's verification status as audit tracks it from the events."""

    __tablename__ = "audit_case"

    case_id: str = Field(primary_key=True, max_length=128)
    status: str
    origin_traceparent: str = ""
    origin_from_filing: bool = False
    verification_id: str = ""
    closed_by_user_id: str = ""
    closed_by_department_id: str = ""
    closed_by_role: str = ""
    reason_code: str = ""
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class DisposerRow(SQLModel, table=True):
    """Someone who reported work on a case done; may never verify it (监管分离)."""

    __tablename__ = "audit_case_disposer"

    case_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    department_id: str = Field(primary_key=True, max_length=128)


class VerificationRow(SQLModel, table=True):
    """Every verification (核查), passed or failed."""

    __tablename__ = "audit_verification"

    verification_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(index=True)
    verifier_user_id: str
    verifier_department_id: str = ""
    verifier_role: str
    passed: bool
    note: str = ""
    verified_at: datetime = Field(sa_type=UtcDateTime)
