"""The shipped departments and 权责清单 load, and nothing in the demo is unroutable."""

from __future__ import annotations

from datetime import UTC, date, datetime

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


def test_every_category_is_covered_in_every_district(shipped_reference: ReferenceData) -> None:
    matrix = shipped_reference.matrix
    assert matrix.version == "2026.1"
    for day in (date(2024, 1, 1), date(2025, 12, 31), date(2026, 1, 1), date(2030, 6, 1)):
        assert matrix.gaps(day) == [], day


def test_the_overrides_win_where_they_apply(shipped_reference: ReferenceData) -> None:
    matrix = shipped_reference.matrix
    now = datetime(2026, 3, 1, tzinfo=UTC)
    leak = matrix.route("E0403", "D03", now)
    assert leak is not None
    assert (leak.department_id, leak.rule_id, leak.handling_hours) == (
        "D03-gas",
        "gas-leak-emergency",
        1,
    )
    bikes_2025 = matrix.route("E0506", "D02", datetime(2025, 6, 1, tzinfo=UTC))
    bikes_2026 = matrix.route("E0506", "D02", now)
    assert bikes_2025 is not None and bikes_2025.department_id == "D02-street_office"
    assert bikes_2026 is not None and bikes_2026.department_id == "D02-transport"
