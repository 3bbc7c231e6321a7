"""Who may read, verify and close, and how a case moves from completion to closure.

核查 (verification) and 结案 (closure) are the last stages of the closed loop
(DESIGN §2). The verifier is never the disposer (监管分离): neither the person
who reported the work done nor anyone from a department that did it.

Cases intake rejected (不予立案) or merged, and cases dispatch backlogged
(挂账), close through the same 结案 without verification, with the reason
code naming their state (`REASONS_WITHOUT_VERIFICATION`).
"""

from __future__ import annotations

from datetime import datetime

from audit.domain.machine import MachineFinding
from audit.domain.model import (
    CaseEffect,
    CaseRecord,
    CaseStatus,
    EventFacts,
    Party,
    Verification,
)
from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
)

READER_ROLES = frozenset({"auditor", "operator", "supervisor", "inspector", "admin"})
VERIFIER_ROLES = frozenset({"inspector", "operator", "supervisor"})
CLOSER_ROLES = frozenset({"operator", "supervisor"})
EVALUATOR_ROLES = frozenset({"auditor", "supervisor", "admin"})

REASONS_WITHOUT_VERIFICATION = {
    "REJECTED": CaseStatus.REJECTED,
    "MERGED": CaseStatus.MERGED,
    "BACKLOGGED": CaseStatus.BACKLOGGED,
}
_STATUS_OF_EFFECT = {
    CaseEffect.REJECTED: CaseStatus.REJECTED,
    CaseEffect.MERGED: CaseStatus.MERGED,
    CaseEffect.BACKLOGGED: CaseStatus.BACKLOGGED,
}


def require_role(party: Party, allowed: frozenset[str], action: str) -> None:
    """Refuse an action to a role that may not take it."""
    if party.role not in allowed:
        raise PermissionDeniedError(
            f"role {party.role!r} may not {action}; allowed: {', '.join(sorted(allowed))}"
        )


def require_text(value: str, name: str) -> str:
    """A required request field, stripped; empty is the caller's mistake."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidArgumentError(f"{name} is required")
    return cleaned


def note_event(case: CaseRecord, traceparent: str, *, files_case: bool) -> None:
    """Remember the case's discovery trace.

    The first event seen for a case gives a provisional origin; the filing
    (立案) event's trace replaces it, because events from different streams
    may arrive in any order and the filing carries the discovery trace.
    """
    if not traceparent:
        return
    if files_case and not case.origin_from_filing:
        case.origin_traceparent = traceparent
        case.origin_from_filing = True
    elif not case.origin_traceparent:
        case.origin_traceparent = traceparent


def apply_event(case: CaseRecord, facts: EventFacts) -> bool:
    """What a recorded event does to the case's status; False when a
    completion came after the case was verified or closed (it stays so)."""
    if facts.place is not None:
        case.place = facts.place
    if facts.effect is CaseEffect.COMPLETED:
        if not record_completion(case, disposer_of(facts)):
            return False
        case.completed_at = facts.occurred_at
    elif facts.effect in _STATUS_OF_EFFECT and case.status is not CaseStatus.CLOSED:
        case.status = _STATUS_OF_EFFECT[facts.effect]
    elif (
        facts.effect in (CaseEffect.DISPATCHED, CaseEffect.RESUMED)
        and case.status is CaseStatus.BACKLOGGED
    ):
        case.status = CaseStatus.OPEN  # taken out of 挂账: resumed, or sent to a department again
    return True


def disposer_of(facts: EventFacts) -> Party:
    """Who disposed of the case: the user who reported it done, and their department."""
    return Party(user_id=facts.actor_user_id, department_id=facts.ledger_department_id)


def record_completion(case: CaseRecord, disposer: Party) -> bool:
    """A department reported the work done (反馈): the case waits for 核查.

    Every disposer is remembered, so no one who worked on the case may later
    verify it. Returns False when the case is already verified or closed (the
    ledger still records the event; the status does not go back).
    """
    if disposer not in case.disposers:
        case.disposers.append(disposer)
    if case.status in (CaseStatus.VERIFIED, CaseStatus.CLOSED):
        return False
    case.status = CaseStatus.AWAITING_VERIFICATION
    return True


def check_separation_of_duties(case: CaseRecord, verifier: Party) -> None:
    """监管分离: the verifier's user and department differ from every disposer's."""
    for disposer in case.disposers:
        if verifier.user_id == disposer.user_id:
            raise PermissionDeniedError(
                f"监管分离: user {verifier.user_id} disposed of case {case.case_id} "
                "and may not verify it"
            )
        if verifier.department_id and verifier.department_id == disposer.department_id:
            raise PermissionDeniedError(
                f"监管分离: department {verifier.department_id} disposed of case "
                f"{case.case_id}; a verifier from another department must check it"
            )


def verify(
    case: CaseRecord,
    verifier: Party,
    *,
    passed: bool,
    note: str,
    verification_id: str,
    at: datetime,
) -> Verification:
    """Record a check: passed → ready to close; failed → back to the department (返工)."""
    require_role(verifier, VERIFIER_ROLES, "verify a case")
    if case.status is not CaseStatus.AWAITING_VERIFICATION:
        raise FailedPreconditionError(
            f"case {case.case_id} is {case.status.value}, not awaiting verification"
        )
    check_separation_of_duties(case, verifier)
    case.status = CaseStatus.VERIFIED if passed else CaseStatus.REWORK
    case.verification_id = verification_id if passed else ""
    return Verification(
        verification_id=verification_id,
        case_id=case.case_id,
        verifier=verifier,
        passed=passed,
        note=note,
        verified_at=at,
    )


def close(case: CaseRecord, closer: Party, *, reason_code: str, at: datetime) -> None:
    """结案: after a passed verification, or (REJECTED / MERGED / BACKLOGGED)
    for a case in that state, which needs no verification."""
    require_role(closer, CLOSER_ROLES, "close a case")
    required_state = REASONS_WITHOUT_VERIFICATION.get(reason_code.upper())
    if required_state is not None:
        if case.status is not required_state:
            raise FailedPreconditionError(
                f"reason {reason_code.upper()} closes only a {required_state.value} case; "
                f"case {case.case_id} is {case.status.value}"
            )
        reason_code = reason_code.upper()
    elif case.status in REASONS_WITHOUT_VERIFICATION.values():
        expected = next(k for k, v in REASONS_WITHOUT_VERIFICATION.items() if v is case.status)
        raise FailedPreconditionError(
            f"case {case.case_id} is {case.status.value}: close it with reason {expected}"
        )
    elif case.status is not CaseStatus.VERIFIED:
        raise FailedPreconditionError(
            f"case {case.case_id} is {case.status.value}; it closes only after a passed verification"
        )
    _closed(case, closer, reason_code, at)


def machine_verify(
    case: CaseRecord,
    finding: MachineFinding,
    machine: Party,
    *,
    detection_id: str,
    verification_id: str,
    at: datetime,
) -> Verification:
    """A machine's fresh look decided the case (see `audit.domain.machine`)."""
    if case.status is not CaseStatus.AWAITING_VERIFICATION:
        raise FailedPreconditionError(f"case {case.case_id} is not awaiting verification")
    case.status = CaseStatus.VERIFIED if finding.passed else CaseStatus.REWORK
    case.verification_id = verification_id if finding.passed else ""
    return Verification(
        verification_id=verification_id,
        case_id=case.case_id,
        verifier=machine,
        passed=finding.passed,
        note=finding.note,
        verified_at=at,
        machine_verified=True,
        detection_id=detection_id,
    )


def machine_close(case: CaseRecord, machine: Party, *, reason_code: str, at: datetime) -> None:
    """结案 straight after a passed machine verification, where policy says so."""
    if case.status is not CaseStatus.VERIFIED:
        raise FailedPreconditionError(f"case {case.case_id} is not verified")
    _closed(case, machine, reason_code, at)
    case.machine_verified = True


def _closed(case: CaseRecord, closer: Party, reason_code: str, at: datetime) -> None:
    case.status = CaseStatus.CLOSED
    case.closed_by = closer
    case.reason_code = reason_code
    case.closed_at = at
