"""The shipped departments, 权责清单, calendars and teams load, and the overrides win."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch.domain.areas import Place
from dispatch.domain.reference import ReferenceData
from svckit.reference import DepartmentType


def test_every_district_has_one_department_of_every_type(shipped_reference: ReferenceData) -> None:
    directory = shipped_reference.directory
    assert len(directory) == len(shipped_reference.city_map.districts) * len(DepartmentType)
    for district in shipped_reference.city_map.districts:
        for department_type in DepartmentType:
            department = directory.of_type(district.code, department_type)
            assert department is not None
            assert department.id == f"{district.code}-{department_type.value}"
    water = directory.get("D01-water")
    assert water is not None and water.name_zh == "东湖区水务局"


def test_the_matrix_validates_with_no_gaps_and_no_ambiguity(
    shipped_reference: ReferenceData,
) -> None:
    matrix = shipped_reference.matrix  # validation would raise
    assert shipped_reference.context.version == "2026.2"
    assert len(matrix.segments) == 12
    assert shipped_reference.context.fallbacks == ("street_office",)


def test_the_overrides_win_where_they_apply(shipped_reference: ReferenceData) -> None:
    matrix = shipped_reference.matrix
    now = datetime(2026, 3, 1, tzinfo=UTC)
    leak = matrix.route("E0403", Place("D03"), now)
    assert leak is not None
    assert (leak.department_id, leak.rule_id, leak.handling_hours) == (
        "D03-gas",
        "gas-leak-emergency",
        1,
    )
    bikes_2025 = matrix.route("E0506", Place("D02"), datetime(2025, 6, 1, tzinfo=UTC))
    bikes_2026 = matrix.route("E0506", Place("D02"), now)
    assert bikes_2025 is not None and bikes_2025.department_id == "D02-street_office"
    assert bikes_2026 is not None and bikes_2026.department_id == "D02-transport"
    market = matrix.route("E0501", Place("D01", street_code="D01S01"), now)
    assert market is not None and market.department_id == "D01-street_office"
    collapse = matrix.route("E0401", Place("D03"), now)
    assert collapse is not None and collapse.assist_ids == ("D03-water", "D03-transport")


def test_the_shipped_teams(shipped_reference: ReferenceData) -> None:
    assert set(shipped_reference.teams) == {"D02-transport", "D01-city_management"}
