"""Responsibility rules: validation (every problem, overlaps and gaps naming rules) and routing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dispatch.domain.areas import Place
from dispatch.domain.departments import DepartmentDirectory, parse_departments
from dispatch.domain.matrix import ResponsibilityMatrix, parse_matrix
from dispatch.domain.model import ResponsibilityError
from dispatch.domain.stages import Stage
from svckit.errors import InvalidArgumentError
from svckit.reference import (
    Catalogue,
    CityMap,
    DepartmentType,
    default_catalogue_path,
    default_city_map_path,
)

DISTRICTS = ("D01", "D02", "D03")
CATALOGUE = Catalogue.load(default_catalogue_path())
CITY_MAP = CityMap.load(default_city_map_path())
# 2026-01-01 00:00 in Shanghai (UTC+8) is 2025-12-31 16:00 UTC.
NEW_YEAR_LOCAL = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
SQUARE_IN_D02 = [[31.22, 121.44], [31.22, 121.46], [31.24, 121.46], [31.24, 121.44]]


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


def defaults(**fields: Any) -> list[dict[str, Any]]:
    """One type-wide rule per department type: covers every category everywhere."""
    return [
        rule(f"{t.value}-default", categories=["*"], department_type=t.value, **fields)
        for t in DepartmentType
    ]


def matrix(*rules: dict[str, Any], version: str = "t.1", **top: Any) -> ResponsibilityMatrix:
    document = {"version": version, "timezone": "Asia/Shanghai", "rules": list(rules)} | top
    return parse_matrix(
        document, catalogue=CATALOGUE, directory=directory(), city_map=CITY_MAP, source="test"
    )


def problems_of(*rules: dict[str, Any], **top: Any) -> tuple[str, ...]:
    with pytest.raises(ResponsibilityError) as raised:
        matrix(*rules, **top)
    return raised.value.problems


def at(district: str, **fields: Any) -> Place:
    return Place(district, **fields)


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
    (problem,) = problems_of(*defaults(), first, second)
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
    # transport-default also covers E0105; give the pair precedence over it.
    assert matrix(*defaults(), until | {"precedence": 1}, after | {"precedence": 1}).segments
    longer = until | {"effective_to": date(2026, 3, 1), "precedence": 1}
    (problem,) = problems_of(*defaults(), longer, after | {"precedence": 1})
    assert "rules old and new overlap" in problem and "from 2026-01-01" in problem


def test_a_gap_is_refused_naming_the_rule_that_ends_too_early() -> None:
    ending = [
        r | {"effective_to": date(2026, 1, 1)} if r["id"] == "water-default" else r
        for r in defaults()
    ]
    (problem,) = problems_of(*ending)
    assert problem.startswith(
        "no rule covers C0101 in D01 from 2026-01-01 when rule water-default ends"
    )
    assert "more category/district pairs" in problem and "manual: true" in problem


def test_a_category_nobody_covers_is_a_gap_unless_explicitly_manual() -> None:
    without_water = [r for r in defaults() if r["id"] != "water-default"]
    (problem,) = problems_of(*without_water)
    assert problem.startswith("no rule covers C0101 in D01 from 2024-01-01 (and 26 more")
    manual = rule("water-manual", categories=["*"], department_type="water", manual=True)
    routing = matrix(*without_water, manual)
    decision = routing.route("C0101", at("D01"), NEW_YEAR_LOCAL)
    assert decision is not None and decision.manual and decision.department_id == ""
    assert decision.rule_id == "water-manual"


def test_street_and_grid_overrides_need_precedence_over_the_district_rule() -> None:
    street = rule(
        "market",
        categories=["E0501"],
        department="D01-street_office",
        districts=["D01"],
        streets=["D01S01"],
    )
    (problem,) = problems_of(*defaults(), street)
    assert "rules city_management-default and market overlap" in problem
    assert "E0501 in D01 (streets D01S01)" in problem
    routing = matrix(*defaults(), street | {"precedence": 5})
    inside = routing.route("E0501", at("D01", street_code="D01S01"), NEW_YEAR_LOCAL)
    outside = routing.route("E0501", at("D01", street_code="D01S02"), NEW_YEAR_LOCAL)
    assert inside is not None and inside.department_id == "D01-street_office"
    assert outside is not None and outside.department_id == "D01-city_management"
    grid = rule(
        "grid",
        categories=["E0501"],
        department="D01-housing",
        districts=["D01"],
        grids=["D01S01G01"],
        precedence=5,
    )
    (clash,) = problems_of(*defaults(), street | {"precedence": 5}, grid)
    assert "rules market and grid overlap" in clash
    other_street = grid | {"grids": ["D01S02G01"]}
    assert matrix(*defaults(), street | {"precedence": 5}, other_street).segments


def test_a_polygon_rule_applies_inside_its_shape() -> None:
    plaza = rule(
        "plaza",
        categories=["E0502"],
        department="D02-street_office",
        districts=["D02"],
        polygon=SQUARE_IN_D02,
        precedence=3,
    )
    routing = matrix(*defaults(), plaza)
    inside = routing.route("E0502", at("D02", point=(31.23, 121.45)), NEW_YEAR_LOCAL)
    outside = routing.route("E0502", at("D02", point=(31.25, 121.45)), NEW_YEAR_LOCAL)
    assert inside is not None and inside.rule_id == "plaza"
    assert outside is not None and outside.rule_id == "city_management-default"


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
        rule("r10", categories=["E0105"], department_type="water", assists=["police"]),
        rule(
            "r11",
            categories=["E0105"],
            department_type="water",
            streets=["D01S09"],
            districts=["D01"],
        ),
        rule(
            "r12",
            categories=["E0105"],
            department_type="water",
            streets=["D02S01"],
            districts=["D01"],
        ),
        rule("r13", categories=["E0105"], department_type="water", polygon=[[1, 2]]),
        rule("r14", categories=["E0105"], department="D01-water", manual=True),
        rule(
            "r15",
            categories=["E0105"],
            department_type="water",
            deadlines={"soon": {"disposal": 1}},
        ),
        rule(
            "r16",
            categories=["E0105"],
            department_type="water",
            deadlines={"default": {"lunch": 1}},
        ),
    )
    text = "\n".join(problems)
    for expected in (
        "rule r1: unknown category 'E9999'",
        "rule r2: unknown department 'D09-transport'",
        "rule r3: unknown district 'D07'",
        'rule r4: categories ["*"] means',
        "rule r5: unknown department_type 'police'",
        "rule r6: effective_from must be a date",
        "rule r7: handling_hours must be positive hours",
        "rule r8: effective_to 2023-01-01 must be after effective_from",
        "rule r9: unknown field 'owner'",
        "rule r1: duplicate id",
        "rule r10: assists names 'police'",
        "rule r11: unknown street 'D01S09'",
        "rule r12: street D02S01 is not in the rule's districts",
        "rule r13: polygon must list at least 3",
        "rule r14: a manual rule routes to nobody",
        "rule r15: deadlines: unknown urgency 'soon'",
        "rule r16: deadlines.default: unknown stage 'lunch'",
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
        parse_matrix(document, catalogue=CATALOGUE, directory=partial, city_map=CITY_MAP)
    assert raised.value.problems == (
        "rule gas: district D02 has no gas department",
        "rule gas: district D03 has no gas department",
    )


def test_top_level_fields_are_checked() -> None:
    problems = problems_of(
        *defaults(), version="", timezone="Mars/Olympus", deadlines={"default": {"disposal": -1}}
    )
    assert any("version must be" in p for p in problems)
    assert any("unknown timezone 'Mars/Olympus'" in p for p in problems)
    assert any("deadlines.default.disposal must be positive" in p for p in problems)
    (fallback,) = problems_of(*defaults(), fallbacks=["police"])
    assert fallback.startswith("top level: fallbacks names 'police'")


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
    decision = matrix(*defaults()).route("E0105", at("D03"), NEW_YEAR_LOCAL)
    assert decision is not None
    assert (decision.department_id, decision.rule_id, decision.rule_version) == (
        "D03-transport",
        "transport-default",
        "1",
    )
    assert decision.handling_hours == CATALOGUE.get("E0105").handling_hours
    assert decision.closing_criteria_zh == CATALOGUE.get("E0105").closing_criteria_zh


def test_higher_precedence_wins_and_overrides_handling_hours() -> None:
    override = rule(
        "gas-leak-fast",
        categories=["E0403"],
        department_type="gas",
        handling_hours=1,
        precedence=10,
    )
    routing = matrix(*defaults(), override)
    leak = routing.route("E0403", at("D02"), NEW_YEAR_LOCAL)
    cover = routing.route("C0105", at("D02"), NEW_YEAR_LOCAL)
    assert leak is not None and (leak.rule_id, leak.handling_hours) == ("gas-leak-fast", 1)
    assert cover is not None and (cover.rule_id, cover.handling_hours) == ("gas-default", 2)


def test_stage_hours_per_urgency_most_specific_first() -> None:
    joint = rule(
        "collapse",
        categories=["E0401"],
        department_type="housing",
        assists=["water", "D01-transport"],
        deadlines={"default": {"disposal": 8}, "immediate": {"disposal": 2, "verification": 1}},
        precedence=5,
    )
    top = {"deadlines": {"default": {"filing": 2, "dispatch": 1, "verification": 8}}}
    routing = matrix(*defaults(), joint, **top)
    urgent = routing.route("E0401", at("D02"), NEW_YEAR_LOCAL, "immediate")
    normal = routing.route("E0401", at("D02"), NEW_YEAR_LOCAL, "expected")
    other = routing.route("E0105", at("D02"), NEW_YEAR_LOCAL, "immediate")
    assert urgent is not None and normal is not None and other is not None
    assert urgent.stage_hours[Stage.DISPOSAL] == timedelta(hours=2)
    assert urgent.stage_hours[Stage.VERIFICATION] == timedelta(hours=1)
    assert normal.stage_hours[Stage.DISPOSAL] == timedelta(hours=8)
    assert normal.stage_hours[Stage.VERIFICATION] == timedelta(hours=8)
    assert other.stage_hours[Stage.DISPOSAL] == timedelta(hours=24)  # the catalogue's
    assert urgent.assist_ids == ("D02-water", "D01-transport")


def test_fallbacks_exclude_the_departments_that_returned_the_case() -> None:
    transport = [
        r | {"fallbacks": ["city_management"]} if r["id"] == "transport-default" else r
        for r in defaults()
    ]
    routing = matrix(*transport, fallbacks=["street_office"])
    where = at("D02")
    chain = routing.fallbacks("E0105", where, NEW_YEAR_LOCAL, exclude=["D02-transport"])
    assert [d.department_id for d in chain] == ["D02-city_management", "D02-street_office"]
    assert {d.rule_id for d in chain} == {"transport-default"}
    later = routing.fallbacks(
        "E0105", where, NEW_YEAR_LOCAL, exclude=["D02-transport", "D02-city_management"]
    )
    assert [d.department_id for d in later] == ["D02-street_office"]


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
    before = routing.route("E0506", at("D02"), NEW_YEAR_LOCAL - timedelta(seconds=1))
    after = routing.route("E0506", at("D02"), NEW_YEAR_LOCAL)
    elsewhere = routing.route("E0506", at("D01"), NEW_YEAR_LOCAL)
    assert before is not None and before.department_id == "D02-street_office"
    assert after is not None and (after.department_id, after.rule_id) == (
        "D02-transport",
        "D02-bikes",
    )
    assert elsewhere is not None and elsewhere.department_id == "D01-street_office"


def test_before_the_first_rule_there_is_no_decision() -> None:
    assert matrix(*defaults()).route("E0402", at("D01"), datetime(2023, 12, 31, tzinfo=UTC)) is None


def test_wrong_questions_are_invalid_arguments() -> None:
    routing = matrix(*defaults())
    with pytest.raises(InvalidArgumentError, match="unknown category code 'E9999'"):
        routing.route("E9999", at("D01"), NEW_YEAR_LOCAL)
    with pytest.raises(InvalidArgumentError, match="unknown district code 'D09'"):
        routing.route("E0105", at("D09"), NEW_YEAR_LOCAL)
    with pytest.raises(ValueError, match="aware"):
        routing.route("E0105", at("D01"), datetime(2026, 1, 1))
