"""Responsibility rules: validation (every problem, overlaps naming both rules) and routing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dispatch.domain.departments import DepartmentDirectory, parse_departments
from dispatch.domain.matrix import ResponsibilityMatrix, parse_matrix
from dispatch.domain.model import ResponsibilityError, deadline_for
from svckit.errors import InvalidArgumentError
from svckit.reference import Catalogue, DepartmentType, default_catalogue_path

DISTRICTS = ("D01", "D02", "D03")
CATALOGUE = Catalogue.load(default_catalogue_path())
# 2026-01-01 00:00 in Shanghai (UTC+8) is 2025-12-31 16:00 UTC.
NEW_YEAR_LOCAL = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def directory() -> DepartmentDirectory:
    entries = [
        {
            "id": f"{d}-{t.value}",
            "name_zh": f"{d}{t.name_zh}",
            "name_en": f"{d} {t.value}",
            "type": t.value,
            "district_code": d,
        }
        for d in DISTRICTS
        for t in DepartmentType
    ]
    return parse_departments({"departments": entries}, DISTRICTS)


def rule(rule_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": rule_id, "districts": ["*"], "effective_from": date(2024, 1, 1)}
    return base | fields


def defaults() -> list[dict[str, Any]]:
    """One type-wide rule per department type: covers every category everywhere."""
    return [
        rule(f"{t.value}-default", categories=["*"], department_type=t.value)
        for t in DepartmentType
    ]


def matrix(*rules: dict[str, Any], version: str = "t.1") -> ResponsibilityMatrix:
    document = {"version": version, "timezone": "Asia/Shanghai", "rules": list(rules)}
    return parse_matrix(document, catalogue=CATALOGUE, directory=directory(), source="test")


def problems_of(*rules: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ResponsibilityError) as raised:
        matrix(*rules)
    return raised.value.problems


# --- validation ----------------------------------------------------------------------


def test_overlapping_rules_without_precedence_are_refused_naming_both() -> None:
    override = rule("gas-leak-fast", categories=["E0403"], department_type="gas", handling_hours=1)
    problems = problems_of(*defaults(), override)
    assert len(problems) == 1
    assert "gas-default" in problems[0] and "gas-leak-fast" in problems[0]
    assert "E0403 in D01 from 2024-01-01" in problems[0]
    assert "and 2 more" in problems[0]  # D02 and D03, reported once per pair of rules


def test_equal_explicit_precedence_is_still_ambiguous() -> None:
    first = rule("a", categories=["E0105"], department_type="transport", precedence=5)
    second = rule(
        "b", categories=["E0105"], department="D01-street_office", districts=["D01"], precedence=5
    )
    (problem,) = problems_of(first, second)
    assert problem.startswith("rules a and b overlap: both cover E0105 in D01")


def test_rules_whose_periods_only_touch_do_not_overlap() -> None:
    until = rule(
        "old", categories=["E0105"], department_type="transport", effective_to=date(2026, 1, 1)
    )
    after = rule(
        "new",
        categories=["E0105"],
        department_type="street_office",
        effective_from=date(2026, 1, 1),
    )
    assert matrix(until, after).rules
    longer = until | {"effective_to": date(2026, 3, 1)}
    (problem,) = problems_of(longer, after)
    assert "rules old and new overlap" in problem and "from 2026-01-01" in problem


def test_every_problem_is_reported_at_once_naming_its_rule() -> None:
    problems = problems_of(
        rule("r1", categories=["E9999"], department_type="water"),
        rule("r2", categories=["E0105"], department="D09-transport"),
        rule("r3", categories=["E0105"], department_type="water", districts=["D07"]),
        rule("r4", categories=["*"], department="D01-water"),
        rule("r5", categories=["E0105"], department_type="police"),
        rule("r6", categories=["E0105"], department_type="water", effective_from="soon"),
        rule("r7", categories=["E0105"], department_type="water", handling_hours=0),
        rule("r8", categories=["E0105"], department_type="water", effective_to=date(2023, 1, 1)),
        rule("r9", categories=["E0105"], department_type="water", owner="me"),
        rule("r1", categories=["E0105"], department_type="water"),
    )
    text = "\n".join(problems)
    for expected in (
        "rule r1: unknown category 'E9999'",
        "rule r2: unknown department 'D09-transport'",
        "rule r3: unknown district 'D07'",
        'rule r4: categories ["*"] means',
        "rule r5: unknown department_type 'police'",
        "rule r6: effective_from must be a date",
        "rule r7: handling_hours must be a positive integer",
        "rule r8: effective_to 2023-01-01 must be after effective_from",
        "rule r9: unknown field 'owner'",
        "rule r1: duplicate id",
    ):
        assert expected in text


def test_a_type_rule_needs_that_type_in_every_district_it_covers() -> None:
    partial = parse_departments(
        {
            "departments": [
                {
                    "id": "D01-gas",
                    "name_zh": "燃气",
                    "name_en": "Gas",
                    "type": "gas",
                    "district_code": "D01",
                }
            ]
        },
        DISTRICTS,
    )
    document = {
        "version": "1",
        "timezone": "Asia/Shanghai",
        "rules": [rule("gas", categories=["*"], department_type="gas")],
    }
    with pytest.raises(ResponsibilityError) as raised:
        parse_matrix(document, catalogue=CATALOGUE, directory=partial)
    assert raised.value.problems == (
        "rule gas: district D02 has no gas department",
        "rule gas: district D03 has no gas department",
    )


def test_top_level_fields_are_checked() -> None:
    with pytest.raises(ResponsibilityError) as raised:
        parse_matrix(
            {"version": "", "timezone": "Mars/Olympus", "rules": defaults()},
            catalogue=CATALOGUE,
            directory=directory(),
        )
    assert any("version must be" in p for p in raised.value.problems)
    assert any("unknown timezone 'Mars/Olympus'" in p for p in raised.value.problems)


def test_departments_are_validated() -> None:
    entries = [
        {"id": "D01-gas", "name_zh": "甲", "name_en": "A", "type": "gas", "district_code": "D01"},
        {"id": "D01-gas", "name_zh": "乙", "name_en": "B", "type": "gas", "district_code": "D02"},
        {"id": "D01-gas-2", "name_zh": "丙", "name_en": "C", "type": "gas", "district_code": "D01"},
        {"id": "X", "name_zh": "丁", "name_en": "D", "type": "police", "district_code": "D01"},
        {"id": "Y", "name_zh": "戊", "name_en": "E", "type": "gas", "district_code": "D99"},
        {"id": "Z", "name_zh": "", "name_en": "F", "type": "gas", "district_code": "D03"},
    ]
    with pytest.raises(ResponsibilityError) as raised:
        parse_departments({"departments": entries}, DISTRICTS)
    assert raised.value.problems == (
        "department D01-gas: duplicate id (already at departments[0])",
        "department D01-gas-2: district D01 already has a gas department (D01-gas)",
        "department X: unknown type 'police' (known: city_management, water, gas, housing, "
        "transport, greening, sanitation, street_office)",
        "department Y: unknown district 'D99'",
        "department Z: name_zh must be a non-empty string",
    )


# --- routing -------------------------------------------------------------------------


def test_type_rule_routes_to_the_department_of_the_case_district() -> None:
    decision = matrix(*defaults()).route("E0105", "D03", NEW_YEAR_LOCAL)
    assert decision is not None
    assert (decision.department_id, decision.rule_id, decision.rule_version) == (
        "D03-transport",
        "transport-default",
        "t.1",
    )
    assert decision.handling_hours == CATALOGUE.get("E0105").handling_hours


def test_higher_precedence_wins_and_overrides_handling_hours() -> None:
    override = rule(
        "gas-leak-fast",
        categories=["E0403"],
        department_type="gas",
        handling_hours=1,
        precedence=10,
    )
    routing = matrix(*defaults(), override)
    leak = routing.route("E0403", "D02", NEW_YEAR_LOCAL)
    cover = routing.route("C0105", "D02", NEW_YEAR_LOCAL)
    assert leak is not None and (leak.rule_id, leak.handling_hours) == ("gas-leak-fast", 1)
    assert cover is not None and (cover.rule_id, cover.handling_hours) == ("gas-default", 2)


def test_routing_uses_the_rule_in_force_on_the_city_local_date() -> None:
    bikes = rule(
        "D02-bikes",
        categories=["E0506"],
        department="D02-transport",
        districts=["D02"],
        effective_from=date(2026, 1, 1),
        precedence=1,
    )
    routing = matrix(*defaults(), bikes)
    before = routing.route("E0506", "D02", NEW_YEAR_LOCAL - timedelta(seconds=1))
    after = routing.route("E0506", "D02", NEW_YEAR_LOCAL)
    elsewhere = routing.route("E0506", "D01", NEW_YEAR_LOCAL)
    assert before is not None and before.department_id == "D02-street_office"
    assert after is not None and (after.department_id, after.rule_id) == (
        "D02-transport",
        "D02-bikes",
    )
    assert elsewhere is not None and elsewhere.department_id == "D01-street_office"


def test_no_rule_in_force_means_no_decision_and_a_gap() -> None:
    only_water = rule(
        "water", categories=["*"], department_type="water", effective_to=date(2026, 1, 1)
    )
    routing = matrix(only_water)
    assert routing.route("E0402", "D01", datetime(2025, 6, 1, tzinfo=UTC)) is not None
    assert routing.route("E0402", "D01", NEW_YEAR_LOCAL) is None
    assert routing.route("E0105", "D01", datetime(2025, 6, 1, tzinfo=UTC)) is None
    assert routing.route("E0402", "D01", datetime(2023, 12, 31, tzinfo=UTC)) is None
    gaps = routing.gaps(date(2025, 6, 1))
    assert ("E0105", "D01") in gaps and ("E0402", "D01") not in gaps


def test_wrong_questions_are_invalid_arguments() -> None:
    routing = matrix(*defaults())
    with pytest.raises(InvalidArgumentError, match="unknown category code 'E9999'"):
        routing.route("E9999", "D01", NEW_YEAR_LOCAL)
    with pytest.raises(InvalidArgumentError, match="unknown district code 'D09'"):
        routing.route("E0105", "D09", NEW_YEAR_LOCAL)
    with pytest.raises(ValueError, match="aware"):
        routing.route("E0105", "D01", datetime(2026, 1, 1))


def test_deadline_is_plain_hours_after_dispatch() -> None:
    dispatched = datetime(2026, 1, 2, 17, 30, tzinfo=UTC)
    assert deadline_for(dispatched, 24) == datetime(2026, 1, 3, 17, 30, tzinfo=UTC)
