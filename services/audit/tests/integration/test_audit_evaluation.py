"""考核评价 from a real ledger against figures computed by hand.

May 2024, two districts, two departments, eight cases (times UTC):

| case | district | lead dept | story                                                     |
|------|----------|-----------|-----------------------------------------------------------|
| C1   | D01      | A         | filed 05-02, due 05-03 10:00, done 05-03 08:00, closed    |
| C2   | D01      | A (from B)| filed 05-05, redispatched to A, due 05-06 09:00, done     |
|      |          |           | 05-06 15:00 (late), closed                                |
| C3   | D01      | A         | filed 05-10, due 05-11, extended to 05-13, rework, done   |
|      |          |           | again 05-12 10:00, closed                                 |
| C4   | D02      | B         | filed 05-20, due 06-05: not due in May                    |
| C5   | —        | —         | rejected 05-15 (不予立案): no district, never dispatched     |
| C6   | D02      | B         | filed in April, due 05-02, done 04-30, closed 05-01       |
| C7   | D02      | B         | filed 05-03, backlogged (挂账) 05-04                       |
| C8   | D01      | A         | filed 05-25, due 05-28, done only 06-02 (after the period)|

A = D01-city_management, B = D02-water.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from openpyxl import load_workbook

from audit.adapters import export
from audit.domain.evaluation import GroupBy, Period
from audit.service_layer.evaluation import evaluate_period
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from svckit.errors import InvalidArgumentError, PermissionDeniedError
from svckit.grpc.identity import Caller

Recorder = Any  # conftest.Recorder
A, B = "D01-city_management", "D02-water"
MAY = Period(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
AUDITOR = Caller("u-aud", "auditor", "D80-audit")


def at(month: int, day: int, hour: int = 8) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def filed(case_id: str, district: str) -> intake_events.CaseFiled:
    place = common_pb2.Place(district_code=district)
    return intake_events.CaseFiled(
        case=case_pb2.Case(case_id=case_id, category_code="E0101", place=place)
    )


def dispatched(case_id: str, dept: str, due: datetime) -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(
        case_id=case_id,
        department_id=dept,
        deadline=stamp(due),
        role=dispatch_events.DISPATCH_ROLE_LEAD,
    )


def completed(case_id: str) -> workorder_events.WorkOrderCompleted:
    return workorder_events.WorkOrderCompleted(case_id=case_id)


def closed(case_id: str) -> audit_events.CaseClosed:
    return audit_events.CaseClosed(case_id=case_id, reason_code="RESOLVED")


@pytest.fixture
async def may(recorder: Recorder) -> Recorder:
    r = recorder
    story = [
        (filed("C6", "D02"), at(4, 25)),
        (dispatched("C6", B, at(5, 2)), at(4, 25, 10)),
        (completed("C6"), at(4, 30, 10)),
        (closed("C6"), at(5, 1)),
        (filed("C1", "D01"), at(5, 2)),
        (dispatched("C1", A, at(5, 3, 10)), at(5, 2, 10)),
        (
            dispatch_events.CaseDispatched(
                case_id="C1", department_id=B, role=dispatch_events.DISPATCH_ROLE_ASSIST
            ),
            at(5, 2, 10),
        ),
        (completed("C1"), at(5, 3, 8)),
        (closed("C1"), at(5, 3, 12)),
        (filed("C7", "D02"), at(5, 3)),
        (dispatched("C7", B, at(5, 4)), at(5, 3)),
        (dispatch_events.CaseBacklogged(case_id="C7", reason="待拆迁"), at(5, 4)),
        (filed("C2", "D01"), at(5, 5)),
        (dispatched("C2", B, at(5, 6, 8)), at(5, 5, 8)),
        (
            dispatch_events.CaseRedispatched(
                dispatch=dispatched("C2", A, at(5, 6, 9)), previous_department_id=B
            ),
            at(5, 5, 9),
        ),
        (completed("C2"), at(5, 6, 15)),
        (closed("C2"), at(5, 7)),
        (filed("C3", "D01"), at(5, 10)),
        (dispatched("C3", A, at(5, 11)), at(5, 10)),
        (completed("C3"), at(5, 11, 6)),
        (
            dispatch_events.ExtensionDecided(
                case_id="C3", approved=True, new_deadline=stamp(at(5, 13))
            ),
            at(5, 11, 7),
        ),
        (audit_events.CaseRework(case_id="C3"), at(5, 11, 9)),
        (completed("C3"), at(5, 12, 10)),
        (closed("C3"), at(5, 12, 12)),
        (intake_events.CaseRejected(case_id="C5"), at(5, 15)),
        (filed("C4", "D02"), at(5, 20)),
        (dispatched("C4", B, at(6, 5)), at(5, 20)),
        (filed("C8", "D01"), at(5, 25)),
        (dispatched("C8", A, at(5, 28)), at(5, 25)),
        (completed("C8"), at(6, 2)),
    ]
    await r.record(*(r.event(message, at=when) for message, when in story))
    return r


def figures(report: Any, group: str) -> dict[str, Any]:
    row = next(r for r in report.evaluation.rows if r.group_key == group)
    return {f.code: f for f in row.figures}


async def test_department_figures_match_the_hand_computed_ones(may: Recorder) -> None:
    report = await evaluate_period(may.uow(), may.ctx, AUDITOR, MAY, GroupBy.DEPARTMENT)
    assert report.evaluation.formula_version == "2026.1"
    assert report.ledger_tree_size == 30
    a = figures(report, A)
    counts = {code: a[code].value for code in ("accepted", "filed", "dispatched", "due", "closed")}
    assert counts == {"accepted": 4, "filed": 4, "dispatched": 4, "due": 4, "closed": 3}
    assert a["closed_on_time"].case_ids == ("C1", "C3")
    assert a["rework"].case_ids == ("C3",) and a["extended"].case_ids == ("C3",)
    assert a["due"].case_ids == ("C1", "C2", "C3", "C8")
    assert (
        a["closing_rate"].value,
        a["closing_rate"].numerator,
        a["closing_rate"].denominator,
    ) == (0.75, 3, 4)
    assert a["on_time_rate"].value == 0.5 and a["rework_rate"].value == 0.25
    assert a["avg_handling_hours"].value == pytest.approx((22 + 30 + 50) / 3, abs=0.01)
    # 100 × (0.4×0.5 + 0.3×0.75 + 0.2×(1−0.25) + 0.1×(1−0.25)) ÷ 1.0
    assert a["composite_score"].value == 65.0

    b = figures(report, B)
    assert (b["accepted"].case_ids, b["due"].case_ids) == (("C4", "C7"), ("C6",))
    assert b["closed_on_time"].value == 1 and b["avg_handling_hours"].value == 120.0
    assert b["composite_score"].value == 100.0
    reasons = dict(report.evaluation.excluded)
    assert set(reasons) == {"C5", "C7"}
    assert reasons["C5"].startswith("未派遣") and reasons["C7"].startswith("BACKLOGGED")


async def test_district_figures_use_the_district_formula(may: Recorder) -> None:
    report = await evaluate_period(may.uow(), may.ctx, AUDITOR, MAY, GroupBy.DISTRICT)
    d01, d02 = figures(report, "D01"), figures(report, "D02")
    # 100 × (0.15×1 + 0.15×1 + 0.3×0.75 + 0.3×0.5 + 0.1×(1−0.25))
    assert d01["composite_score"].value == 75.0 and d02["composite_score"].value == 100.0
    assert d01["filing_rate"].value == 1.0 and d01["dispatch_rate"].denominator == 4
    assert dict(report.evaluation.excluded)["C5"].startswith("无所属区")
    assert "0.15×立案率" in report.evaluation.formula_text


async def test_a_period_with_nothing_due_has_undefined_rates(may: Recorder) -> None:
    april = Period(datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 4, 28, tzinfo=UTC))
    report = await evaluate_period(may.uow(), may.ctx, AUDITOR, april, GroupBy.DEPARTMENT)
    b = figures(report, B)
    assert b["accepted"].case_ids == ("C6",) and b["due"].value == 0
    assert not b["closing_rate"].defined and not b["composite_score"].defined


async def test_exports_carry_every_figure_its_cases_and_the_basis(may: Recorder) -> None:
    report = await evaluate_period(may.uow(), may.ctx, AUDITOR, MAY, GroupBy.DEPARTMENT)
    e, size, root = report.evaluation, report.ledger_tree_size, report.ledger_root_hash
    text = export.to_csv(e, size, root).decode("utf-8-sig")
    lines = text.splitlines()
    assert "# formula_version: 2026.1" in lines and f"# ledger_root_hash: {root.hex()}" in lines
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    on_time = next(r for r in rows if r["group"] == A and r["figure"] == "on_time_rate")
    assert (on_time["name_zh"], on_time["value"], on_time["case_ids"]) == (
        "按期结案率",
        "0.5000",
        "C1 C3",
    )
    assert {r["case_ids"] for r in rows if r["figure"] == "excluded"} == {"C5", "C7"}

    book = load_workbook(io.BytesIO(export.to_xlsx(e, size, root)))
    assert book.sheetnames == ["评价汇总", "明细", "排除案件", "说明"]
    summary = list(book["评价汇总"].iter_rows(values_only=True))
    assert summary[0][0] == "分组" and "综合指标值" in summary[0]
    row_a = next(r for r in summary if r[0] == A)
    assert row_a[list(summary[1]).index("composite_score")] == 65.0
    about = dict(book["说明"].iter_rows(values_only=True))
    assert about["ledger_tree_size"] == "30" and about["formula_version"] == "2026.1"
    assert export.filename(e, "xlsx") == "evaluation-department-20240501-20240601-v2026.1.xlsx"


async def test_who_may_evaluate_and_what_a_request_needs(may: Recorder) -> None:
    worker = Caller("u-1", "department_user", A)
    with pytest.raises(PermissionDeniedError):
        await evaluate_period(may.uow(), may.ctx, worker, MAY, GroupBy.DEPARTMENT)
    with pytest.raises(InvalidArgumentError, match="group_by"):
        await evaluate_period(may.uow(), may.ctx, AUDITOR, MAY, None)
    backwards = Period(MAY.end, MAY.start)
    with pytest.raises(InvalidArgumentError, match="period"):
        await evaluate_period(may.uow(), may.ctx, AUDITOR, backwards, GroupBy.DISTRICT)


async def test_an_unreadable_body_excludes_its_case_with_the_reason(may: Recorder) -> None:
    await may.sql(
        "UPDATE audit_ledger_entry SET payload = :p WHERE case_id = 'C1' AND event_type LIKE '%CaseFiled'",
        p=b"\x00tampered",
    )
    report = await evaluate_period(may.uow(), may.ctx, AUDITOR, MAY, GroupBy.DEPARTMENT)
    assert "摘要不符" in dict(report.evaluation.excluded)["C1"]
    assert "C1" not in figures(report, A)["accepted"].case_ids
