"""Audit's own tables (prefixed `audit_` so they never collide in one process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary
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
    # Hex RFC 6962 leaf hash (level 0 of the Merkle tree).
    leaf_hash: str = ""
    # The event body; committed to by payload_sha256.
    payload: bytes = Field(default=b"", sa_type=LargeBinary)


class LedgerTipRow(SQLModel, table=True):
    """The appender's state, one row: appends read and update it instead of
    the tree (O(log n) per append). Locked by the appending transaction."""

    __tablename__ = "audit_ledger_tip"

    id: int = Field(default=1, primary_key=True)
    size: int = 0
    head_hash: str
    # The frontier's hashes (one per set bit of size, largest subtree first), concatenated.
    frontier: bytes = Field(default=b"", sa_type=LargeBinary)
    signed_size: int = 0


class MerkleNodeRow(SQLModel, table=True):
    """A perfect interior node (level ≥ 1) of the Merkle tree, written once
    when its last leaf is appended; proofs are assembled from these."""

    __tablename__ = "audit_merkle_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: bytes = Field(sa_type=LargeBinary)


class TreeHeadRow(SQLModel, table=True):
    """A signed tree head (STH)."""

    __tablename__ = "audit_tree_head"

    tree_size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: bytes = Field(sa_type=LargeBinary)
    # Milliseconds since 1970: past int32, so BIGINT on PostgreSQL.
    timestamp_ms: int = Field(sa_type=BigInteger)
    key_id: str
    signature: bytes = Field(sa_type=LargeBinary)


class DetectionRow(SQLModel, table=True):
    """What machine verification needs of a recorded detection: its source
    and where it looked (re-derivable from the detection's ledger entry)."""

    __tablename__ = "audit_detection"

    detection_id: str = Field(primary_key=True, max_length=128)
    # Each identity a same-source look matches on is indexed: one without an
    # index made SQLite answer the look's OR by walking every case awaiting
    # verification and its links (CaseRepository.awaiting_verification).
    source_id: str = Field(default="", index=True)
    device_id: str = Field(default="", index=True)
    component_id: str = Field(default="", index=True)
    category_code: str = ""
    latitude: float | None = None
    longitude: float | None = None


class DetectionCaseRow(SQLModel, table=True):
    """detection → case, learned from CaseFiled.case.detection_ids."""

    __tablename__ = "audit_detection_case"

    detection_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(index=True)


class CaseRow(SQLModel, table=True):
    """A case's verification status as audit tracks it from the events."""

    __tablename__ = "audit_case"

    case_id: str = Field(primary_key=True, max_length=128)
    status: str = Field(index=True)
    origin_traceparent: str = ""
    origin_from_filing: bool = False
    verification_id: str = ""
    closed_by_user_id: str = ""
    closed_by_department_id: str = ""
    closed_by_role: str = ""
    reason_code: str = ""
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    machine_verified: bool = False
    # What and where (from CaseFiled / CaseReclassified), for machine verification.
    category_code: str = Field(default="", index=True)
    latitude: float | None = None
    longitude: float | None = None
    district_code: str = ""
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


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
    machine_verified: bool = False
    detection_id: str = ""
