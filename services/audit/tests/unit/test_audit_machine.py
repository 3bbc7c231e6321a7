"""机器核查 rules: which fresh looks decide which cases, and how."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from audit.domain.machine import (
    CaseSources,
    CategoryPolicy,
    VerificationPolicy,
    distance_m,
    judge,
    machine_party,
)
from audit.domain.model import CasePlace, CaseRecord, CaseStatus, FreshLook

DONE = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
PLACE = CasePlace("E0101", 31.2304, 121.4737, "D01")
POLICY = VerificationPolicy(
    version="t",
    default=CategoryPolicy(),
    categories={
        "E0101": CategoryPolicy(machine_verification=True, window_hours=12, radius_m=30),
        "C0101": CategoryPolicy(machine_verification=True, machine_may_fail=False),
    },
)
SOURCES = CaseSources(frozenset({"det-1"}), frozenset({"cam-17"}), frozenset({"dev-9"}))


def case(category: str = "E0101") -> CaseRecord:
    return CaseRecord(
        "C-1",
        status=CaseStatus.AWAITING_VERIFICATION,
        place=replace(PLACE, category_code=category),
        completed_at=DONE,
    )


def look(**overrides: object) -> FreshLook:
    values: dict[str, object] = {
        "detection_id": "det-2",
        "at": DONE + timedelta(hours=1),
        "source_id": "cam-17",
        "category_code": "E0101",
        "confidence": 0.1,
    }
    values.update(overrides)
    return FreshLook(**values)  # type: ignore[arg-type]


def test_a_low_confidence_relook_from_the_same_source_passes() -> None:
    finding = judge(case(), SOURCES, look(), POLICY)
    assert finding is not None and finding.passed and "0.10" in finding.note
    assert machine_party(look()).user_id == "machine:cam-17"


def test_a_confident_relook_fails_unless_the_policy_only_lets_machines_pass() -> None:
    finding = judge(case(), SOURCES, look(confidence=0.8), POLICY)
    assert finding is not None and not finding.passed
    sensor = look(category_code="C0101", confidence=0.8)
    assert judge(case("C0101"), SOURCES, sensor, POLICY) is None


@pytest.mark.parametrize(
    "fresh",
    [
        pytest.param(look(at=DONE - timedelta(minutes=1)), id="before-completion"),
        pytest.param(look(at=DONE + timedelta(hours=13)), id="after-the-window"),
        pytest.param(look(source_id="cam-99"), id="another-source-far-away"),
        pytest.param(look(category_code="E0505"), id="same-source-other-problem"),
    ],
)
def test_looks_that_say_nothing_about_the_case(fresh: FreshLook) -> None:
    assert judge(case(), SOURCES, fresh, POLICY) is None


def test_another_source_nearby_seeing_the_same_problem_counts() -> None:
    near = look(source_id="drone-1", latitude=31.2305, longitude=121.4737)  # ~11 m
    far = look(source_id="drone-1", latitude=31.2310, longitude=121.4737)  # ~67 m
    assert judge(case(), SOURCES, near, POLICY) is not None
    assert judge(case(), SOURCES, far, POLICY) is None
    assert distance_m(31.2304, 121.4737, 31.2305, 121.4737) == pytest.approx(11.1, abs=0.2)


def test_a_withdrawal_or_an_inactive_report_passes_whatever_its_category() -> None:
    cleared = FreshLook("det-1", DONE + timedelta(hours=2), absent=True)
    finding = judge(case(), SOURCES, cleared, POLICY)
    assert finding is not None and finding.passed
    device = look(source_id="", device_id="dev-9", category_code="", absent=True)
    assert judge(case(), SOURCES, device, POLICY) is not None


def test_nothing_is_decided_where_policy_forbids_or_the_case_is_not_waiting() -> None:
    assert judge(case("E0105"), SOURCES, look(category_code="E0105"), POLICY) is None
    verified = replace(case(), status=CaseStatus.VERIFIED)
    assert judge(verified, SOURCES, look(), POLICY) is None
