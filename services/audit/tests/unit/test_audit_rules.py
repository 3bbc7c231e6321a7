"""核查/结案 rules: roles, states, and 监管分离 (the verifier is never the disposer)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.domain import rules
from audit.domain.case_history import CaseHistory, CaseStep, Step
from audit.domain.model import CaseEffect, CaseRecord, CaseStatus, EventFacts, Party, Verification
from svckit.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError

NOW = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
DISPOSER = Party("u-d01", "D01-transport", "department_user")
INSPECTOR = Party("u-insp", "D90-inspection", "inspector")


def completed_case() -> CaseRecord:
    case = CaseRecord("C-1")
    assert rules.record_completion(case, DISPOSER)
    assert case.status is CaseStatus.AWAITING_VERIFICATION
    return case


def verify(case: CaseRecord, who: Party, passed: bool = True) -> Verification:
    return rules.verify(case, who, passed=passed, note="", verification_id="ver-1", at=NOW)


def test_an_inspector_from_another_department_verifies() -> None:
    case = completed_case()
    result = verify(case, INSPECTOR)
    assert result.passed and case.status is CaseStatus.VERIFIED and case.verification_id == "ver-1"


@pytest.mark.parametrize(
    "verifier",
    [
        Party("u-d01", "D90-inspection", "inspector"),  # the same person, elsewhere now
        Party("u-other", "D01-transport", "inspector"),  # a colleague in the disposing department
        Party("u-other", "D01-transport", "supervisor"),
    ],
)
def test_separation_of_duties(verifier: Party) -> None:
    case = completed_case()
    with pytest.raises(PermissionDeniedError, match="监管分离"):
        verify(case, verifier)
    assert case.status is CaseStatus.AWAITING_VERIFICATION


def test_every_disposer_is_excluded_after_rework() -> None:
    case = completed_case()
    verify(case, INSPECTOR, passed=False)
    assert case.status is CaseStatus.REWORK and case.verification_id == ""
    assert rules.record_completion(case, Party("u-d02", "D02-water", "department_user"))
    with pytest.raises(PermissionDeniedError):
        verify(case, Party("u-x", "D01-transport", "inspector"))
    verify(case, INSPECTOR)
    assert case.status is CaseStatus.VERIFIED


@pytest.mark.parametrize("role", ["department_user", "auditor", "admin", "system"])
def test_only_inspectors_operators_supervisors_verify(role: str) -> None:
    with pytest.raises(PermissionDeniedError, match="may not verify"):
        verify(completed_case(), Party("u-x", "D90", role))


def test_verification_needs_a_completed_case() -> None:
    with pytest.raises(FailedPreconditionError, match="not awaiting verification"):
        verify(CaseRecord("C-1"), INSPECTOR)
    case = completed_case()
    verify(case, INSPECTOR)
    with pytest.raises(FailedPreconditionError):
        verify(case, INSPECTOR)


def test_closing_needs_a_passed_verification_and_an_operator() -> None:
    operator = Party("u-op", "", "operator")
    case = completed_case()
    with pytest.raises(FailedPreconditionError, match="passed verification"):
        rules.close(case, operator, reason_code="resolved", at=NOW)
    verify(case, INSPECTOR)
    with pytest.raises(PermissionDeniedError):
        rules.close(case, INSPECTOR, reason_code="resolved", at=NOW)
    rules.close(case, operator, reason_code="resolved", at=NOW)
    assert (case.status, case.closed_by, case.reason_code) == (
        CaseStatus.CLOSED,
        operator,
        "resolved",
    )
    assert not rules.record_completion(case, DISPOSER)
    assert case.status is CaseStatus.CLOSED


def test_the_filing_trace_becomes_the_origin() -> None:
    case = CaseRecord("C-1")
    rules.note_event(case, "00-aaa-01-01", files_case=False)
    assert case.origin_traceparent == "00-aaa-01-01"
    rules.note_event(case, "00-bbb-02-01", files_case=True)
    rules.note_event(case, "00-ccc-03-01", files_case=False)
    rules.note_event(case, "00-ddd-04-01", files_case=True)
    assert case.origin_traceparent == "00-bbb-02-01"


def test_required_text() -> None:
    assert rules.require_text("  r-1 ", "request_id") == "r-1"
    with pytest.raises(InvalidArgumentError, match="request_id is required"):
        rules.require_text(" ", "request_id")


OPERATOR = Party("u-op", "D00-centre", "operator")


def facts(effect: CaseEffect, **extra: object) -> EventFacts:
    values: dict[str, object] = {
        "event_id": "e",
        "event_type": "t",
        "subject": "s",
        "producer": "p",
        "case_id": "C-1",
        "occurred_at": NOW,
        "summary": "",
        "payload_sha256": "",
        "effect": effect,
    }
    values.update(extra)
    return EventFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("effect", "reason"),
    [
        (CaseEffect.REJECTED, "REJECTED"),
        (CaseEffect.MERGED, "merged"),
        (CaseEffect.BACKLOGGED, "BACKLOGGED"),
    ],
)
def test_rejected_merged_and_backlogged_cases_close_without_verification(
    effect: CaseEffect, reason: str
) -> None:
    case = CaseRecord("C-1")
    rules.apply_event(case, facts(effect))
    with pytest.raises(FailedPreconditionError, match=f"close it with reason {reason.upper()}"):
        rules.close(case, OPERATOR, reason_code="RESOLVED", at=NOW)
    with pytest.raises(PermissionDeniedError):
        rules.close(case, INSPECTOR, reason_code=reason, at=NOW)
    rules.close(case, OPERATOR, reason_code=reason, at=NOW)
    assert (case.status, case.reason_code) == (CaseStatus.CLOSED, reason.upper())


def test_a_state_reason_code_needs_that_state() -> None:
    case = completed_case()
    verify(case, INSPECTOR)
    with pytest.raises(FailedPreconditionError, match="closes only a rejected case"):
        rules.close(case, OPERATOR, reason_code="REJECTED", at=NOW)
    with pytest.raises(FailedPreconditionError, match="closes only a backlogged case"):
        rules.close(CaseRecord("C-2"), OPERATOR, reason_code="BACKLOGGED", at=NOW)


def test_a_backlogged_case_dispatched_again_is_open_and_a_closed_one_stays_closed() -> None:
    case = CaseRecord("C-1")
    rules.apply_event(case, facts(CaseEffect.BACKLOGGED))
    rules.apply_event(case, facts(CaseEffect.DISPATCHED))
    assert case.status is CaseStatus.OPEN
    rules.apply_event(case, facts(CaseEffect.REJECTED))
    rules.close(case, OPERATOR, reason_code="REJECTED", at=NOW)
    rules.apply_event(case, facts(CaseEffect.MERGED))
    assert case.status is CaseStatus.CLOSED


def test_a_resumed_case_is_open_and_no_longer_closable_as_backlogged() -> None:
    case = CaseRecord("C-3")
    rules.apply_event(case, facts(CaseEffect.BACKLOGGED))
    assert case.status is CaseStatus.BACKLOGGED
    rules.apply_event(case, facts(CaseEffect.RESUMED))
    assert case.status is CaseStatus.OPEN
    with pytest.raises(FailedPreconditionError, match="closes only a backlogged case"):
        rules.close(case, OPERATOR, reason_code="BACKLOGGED", at=NOW)
    rules.apply_event(case, facts(CaseEffect.RESUMED))  # a resume of an open case changes nothing
    assert case.status is CaseStatus.OPEN


def test_a_completion_remembers_when_and_who() -> None:
    case = CaseRecord("C-1")
    done = facts(CaseEffect.COMPLETED, actor_user_id="u-d01", actor_department_id="D01")
    assert rules.apply_event(case, done)
    assert case.completed_at == NOW and case.disposers == [Party("u-d01", "D01")]
    verify(case, INSPECTOR)
    assert not rules.apply_event(case, done)


def test_evaluation_history_forgets_a_backlog_once_resumed() -> None:
    history = CaseHistory("C-4")
    history.apply(CaseStep("C-4", Step.BACKLOGGED, NOW, 1))
    assert history.ended_without_disposal == "BACKLOGGED"
    history.apply(CaseStep("C-4", Step.RESUMED, NOW, 2))
    assert history.ended_without_disposal == ""
