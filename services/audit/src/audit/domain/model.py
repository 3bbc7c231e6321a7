"""What the audit service knows: ledger entries, the facts of a recorded event,
and each case's verification status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CaseEffect(StrEnum):
    """What a recorded event changes about a case's verification status."""

    NONE = "none"
    FILED = "filed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    MERGED = "merged"
    BACKLOGGED = "backlogged"
    DISPATCHED = "dispatched"
    # Taken out of 挂账 (dispatch's Resume): open again, no longer closable as BACKLOGGED.
    RESUMED = "resumed"


@dataclass(frozen=True)
class CasePlace:
    """What a case is and where, as filed (or reclassified): machine
    verification matches fresh looks against it."""

    category_code: str
    latitude: float | None = None
    longitude: float | None = None
    district_code: str = ""


@dataclass(frozen=True)
class FreshLook:
    """A machine's observation (a detection, or a detection withdrawn), as
    machine verification (核查) reads it."""

    detection_id: str
    at: datetime
    source_id: str = ""
    device_id: str = ""
    component_id: str = ""
    category_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    confidence: float = 0.0
    # The source says the problem is gone: a withdrawal, or an inactive report.
    absent: bool = False


@dataclass(frozen=True)
class EventFacts:
    """One integration event reduced to what the ledger records about it.

    Built by the adapter that understands the protos, so the ledger rules
    never see a protobuf message.
    """

    event_id: str
    event_type: str
    subject: str
    producer: str
    case_id: str
    occurred_at: datetime
    summary: str
    payload_sha256: str
    actor_user_id: str = ""
    actor_department_id: str = ""
    # The department the event concerns (dispatched to, work order of).
    department_id: str = ""
    # Set on a DetectionReported: the detection this entry records.
    detection_id: str = ""
    # Set on a CaseFiled: the detections the new case was filed from.
    filed_detection_ids: tuple[str, ...] = ()
    effect: CaseEffect = CaseEffect.NONE
    traceparent: str = ""
    # The event body as received; the entry's payload_sha256 commits to it.
    payload: bytes = b""
    # Set on a CaseFiled / CaseReclassified.
    place: CasePlace | None = None
    # Set on a DetectionReported / DetectionWithdrawn.
    look: FreshLook | None = None

    @property
    def completes_work(self) -> bool:
        """A WorkOrderCompleted: the case now waits for verification."""
        return self.effect is CaseEffect.COMPLETED

    @property
    def files_case(self) -> bool:
        """A CaseFiled: its trace is the case's discovery trace."""
        return self.effect is CaseEffect.FILED

    @property
    def ledger_department_id(self) -> str:
        """The department an entry names: whoever acted, else whom it concerns."""
        return self.actor_department_id or self.department_id


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded event: leaf `sequence - 1` of the Merkle tree, and chained
    to the entry before it by `previous_hash`.

    The hashed fields (see `audit.domain.hashing`) are covered by `entry_hash`
    and `leaf_hash`; `payload` by its digest `payload_sha256`, a hashed field.
    `detection_id` is a lookup index that puts a detection entry on its
    case's timeline; it is re-derivable from the payload.
    """

    sequence: int
    case_id: str
    event_id: str
    event_type: str
    subject: str
    producer: str
    occurred_at: datetime
    recorded_at: datetime
    actor_user_id: str
    department_id: str
    summary: str
    trace_id: str
    span_id: str
    payload_sha256: str
    previous_hash: str
    entry_hash: str
    detection_id: str = ""
    # Hex SHA-256(0x00 || canonical_json(entry)).
    leaf_hash: str = ""
    payload: bytes = b""


@dataclass(frozen=True)
class LedgerCheck:
    """The outcome of recomputing the ledger: where it first breaks, and how."""

    ok: bool
    entries_checked: int
    first_bad_sequence: int = 0
    problem: str = ""
    tree_size: int = 0
    root_hash: bytes = b""
    tree_heads_checked: int = 0


ChainCheck = LedgerCheck


class CaseStatus(StrEnum):
    """Where a case stands as far as verification and closure are concerned."""

    OPEN = "open"
    AWAITING_VERIFICATION = "awaiting_verification"
    REWORK = "rework"
    VERIFIED = "verified"
    CLOSED = "closed"
    # Closable without verification, with the matching reason code.
    REJECTED = "rejected"
    MERGED = "merged"
    BACKLOGGED = "backlogged"


@dataclass(frozen=True)
class Party:
    """A person acting, with the department and role they act in."""

    user_id: str
    department_id: str = ""
    role: str = ""


@dataclass(frozen=True)
class Verification:
    """An inspector's check of a completed case (核查)."""

    verification_id: str
    case_id: str
    verifier: Party
    passed: bool
    note: str
    verified_at: datetime
    # A machine's fresh look decided it (the detection it rests on).
    machine_verified: bool = False
    detection_id: str = ""


@dataclass
class CaseRecord:
    """A case as audit tracks it: who disposed of it and whether it may close."""

    case_id: str
    status: CaseStatus = CaseStatus.OPEN
    # The discovery trace: later human actions link their spans to it.
    origin_traceparent: str = ""
    origin_from_filing: bool = False
    disposers: list[Party] = field(default_factory=list)
    verification_id: str = ""
    closed_by: Party | None = None
    reason_code: str = ""
    closed_at: datetime | None = None
    machine_verified: bool = False
    place: CasePlace | None = None
    # When the work was last reported done: machine looks count after it.
    completed_at: datetime | None = None
