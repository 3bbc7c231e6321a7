"""What the audit service knows: ledger entries, the facts of a recorded event,
and each case's verification status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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
    # Set on a WorkOrderCompleted: the case now waits for verification.
    completes_work: bool = False
    # Set on a CaseFiled: its trace is the case's discovery trace.
    files_case: bool = False
    traceparent: str = ""

    @property
    def ledger_department_id(self) -> str:
        """The department an entry names: whoever acted, else whom it concerns."""
        return self.actor_department_id or self.department_id


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded event, chained to the entry before it by `previous_hash`.

    Every field except `detection_id` is covered by `entry_hash`
    (see `audit.domain.hashing`). `detection_id` is a lookup index that puts a
    detection entry on its case's timeline; it is re-derivable from the
    payload the entry's `payload_sha256` commits to.
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


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of recomputing the chain: where it first breaks, and how."""

    ok: bool
    entries_checked: int
    first_bad_sequence: int = 0
    problem: str = ""


class CaseStatus(StrEnum):
    """Where a case stands as far as verification and closure are concerned."""

    OPEN = "open"
    AWAITING_VERIFICATION = "awaiting_verification"
    REWORK = "rework"
    VERIFIED = "verified"
    CLOSED = "closed"


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
