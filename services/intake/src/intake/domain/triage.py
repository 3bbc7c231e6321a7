"""Triage (研判): the operators' decisions on cases the policy held back, and on
filed cases that turn out to be duplicates, out of scope or misclassified.

Each decision checks who asks and whether the case's state allows it, and
changes the case in memory; nothing here publishes or stores.

- file (立案): TRIAGE → FILED.
- reject (不予立案): TRIAGE / FILED / UNROUTABLE → REJECTED, with a coded reason.
- merge (duplicate_of): TRIAGE / FILED / UNROUTABLE → MERGED into another open case.
  Not once a department has the case: that goes through its return (退单).
- reclassify: a new 小类 while no department is working on it (up to DISPATCHED,
  or RETURNED / BACKLOGGED); a case outside triage goes back to FILED and is routed again.
- set urgency: any open case.
"""

from __future__ import annotations

from datetime import datetime

from intake.domain.filing import title_for
from intake.domain.fusion import fused_certainty
from intake.domain.model import Case, CaseState, RejectReason
from svckit.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from svckit.reference import Category, CityMap

S = CaseState

TRIAGE_ROLES = frozenset({"operator", "supervisor", "admin"})
BEFORE_DISPATCH = frozenset({S.TRIAGE, S.FILED, S.UNROUTABLE})
RECLASSIFIABLE = BEFORE_DISPATCH | {S.DISPATCHED, S.RETURNED, S.BACKLOGGED}
MAX_NOTE_LENGTH = 2000
URGENCIES = range(1, 6)
"""CAP urgency numbers of `cityops.common.v1.Urgency`: IMMEDIATE … UNKNOWN."""


def check_request(role: str, request_id: str, note: str = "") -> None:
    """Who may triage, and the fields every triage request needs."""
    if role not in TRIAGE_ROLES:
        raise PermissionDeniedError(f"role {role!r} may not triage cases")
    if not request_id:
        raise InvalidArgumentError("request_id is required")
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidArgumentError(f"note is longer than {MAX_NOTE_LENGTH} characters")


def _require(case: Case, allowed: frozenset[CaseState], action: str) -> None:
    if case.state not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise FailedPreconditionError(
            f"case {case.case_id} is {case.state.value}; {action} needs one of: {names}"
        )


def file_triaged(case: Case, note: str, now: datetime) -> None:
    _require(case, frozenset({S.TRIAGE}), "filing")
    case.state = S.FILED
    case.triage_note = note
    case.updated_at = now


def reject(case: Case, reason: RejectReason | None, note: str, now: datetime) -> CaseState:
    """Decline to file; returns the state the case was in."""
    if reason is None:
        raise InvalidArgumentError("reason is required")
    if reason is RejectReason.OTHER and not note.strip():
        raise InvalidArgumentError("a note is required when the reason is OTHER")
    _require(case, BEFORE_DISPATCH, "rejection")
    before = case.state
    case.state = S.REJECTED
    case.reject_reason = reason
    case.triage_note = note
    case.updated_at = now
    return before


def merge(case: Case, target: Case, note: str, now: datetime) -> CaseState:
    """Fold a duplicate into `target`; returns the state the duplicate was in.

    The caller moves the link rows; here the target takes the duplicate's
    count and sources so its certainty reflects every witness.
    """
    if case.case_id == target.case_id:
        raise InvalidArgumentError("a case cannot be merged into itself")
    _require(case, BEFORE_DISPATCH, "merging")
    if not target.is_open:
        raise FailedPreconditionError(
            f"case {target.case_id} is {target.state.value}: merge only into an open case"
        )
    before = case.state
    case.state = S.MERGED
    case.duplicate_of = target.case_id
    case.triage_note = note
    case.updated_at = now
    target.detection_count += case.detection_count
    for source, score in case.source_scores.items():
        target.source_scores[source] = max(score, target.source_scores.get(source, 0.0))
    target.certainty = fused_certainty(target.source_scores)
    target.updated_at = now
    return before


def reclassify(
    case: Case, old: Category, new: Category, city_map: CityMap, note: str, now: datetime
) -> None:
    """Give the case a new 小类; a default title follows, a person's title stays."""
    if new.code == case.category_code:
        raise InvalidArgumentError(f"case {case.case_id} is already {new.code}")
    _require(case, RECLASSIFIABLE, "reclassification")
    if case.title == title_for(old, case.place, city_map):
        case.title = title_for(new, case.place, city_map)
    case.category_code = new.code
    case.triage_note = note
    case.updated_at = now
    if case.state is not S.TRIAGE:
        # Routed again from scratch: reports of the old routing are history from now on.
        case.state = S.FILED
        case.state_at = now
        case.escalation_level, case.escalated_at = 0, None


def set_urgency(case: Case, urgency: int, note: str, now: datetime) -> int | None:
    """Set the urgency; returns the old one, or None when nothing changed."""
    if urgency not in URGENCIES:
        raise InvalidArgumentError(
            "urgency must be one of IMMEDIATE, EXPECTED, FUTURE, PAST, UNKNOWN"
        )
    if not case.is_open:
        raise FailedPreconditionError(f"case {case.case_id} is {case.state.value}")
    if urgency == case.urgency:
        return None
    old = case.urgency
    case.urgency = urgency
    case.triage_note = note or case.triage_note
    case.updated_at = now
    return old
