"""The departments (责任单位) cases can be dispatched to, validated as a whole."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from dispatch.domain.model import Department, ResponsibilityError
from svckit.reference import DepartmentType

_FIELDS = ("id", "name_zh", "name_en", "type", "district_code")


class DepartmentDirectory:
    """Departments by id and by (district, type); immutable after construction.

    A type-based responsibility rule names a department *type*; the directory
    turns it into the one department of that type in the case's district.
    """

    def __init__(self, departments: Iterable[Department], district_codes: Collection[str]) -> None:
        self._by_id = {d.id: d for d in departments}
        self._by_place = {(d.district_code, d.type): d for d in self._by_id.values()}
        self.district_codes: tuple[str, ...] = tuple(district_codes)

    def get(self, department_id: str) -> Department | None:
        return self._by_id.get(department_id)

    def of_type(self, district_code: str, department_type: DepartmentType) -> Department | None:
        """The department of this type in this district, if the city has one."""
        return self._by_place.get((district_code, department_type))

    def resolve(self, name: str, district_code: str) -> Department | None:
        """A department named by id, or by type (the one of that type in the district)."""
        department = self._by_id.get(name)
        if department is not None:
            return department
        try:
            department_type = DepartmentType(name)
        except ValueError:
            return None
        return self.of_type(district_code, department_type)

    def __contains__(self, department_id: object) -> bool:
        return department_id in self._by_id

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def parse_departments(
    data: Any, district_codes: Collection[str], *, source: str = "<departments>"
) -> DepartmentDirectory:
    """Validate a parsed departments document; raises ``ResponsibilityError`` listing all problems.

    Checks each entry's fields, that ids are unique, types and districts are
    known, and that no district has two departments of one type (type-based
    routing would not know which one to pick).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("departments"), list):
        raise ResponsibilityError(
            source, ["top level: expected a mapping with a `departments` list"]
        )
    problems: list[str] = []
    departments: list[Department] = []
    seen: dict[str, str] = {}
    by_place: dict[tuple[str, DepartmentType], str] = {}
    for index, raw in enumerate(data["departments"]):
        department, entry_problems = _parse_one(raw, index, district_codes)
        problems.extend(entry_problems)
        if department is None:
            continue
        label = f"department {department.id}"
        if department.id in seen:
            problems.append(f"{label}: duplicate id (already at {seen[department.id]})")
            continue
        seen[department.id] = f"departments[{index}]"
        place = (department.district_code, department.type)
        if place in by_place:
            problems.append(
                f"{label}: district {department.district_code} already has a "
                f"{department.type.value} department ({by_place[place]})"
            )
        by_place[place] = department.id
        departments.append(department)
    if problems:
        raise ResponsibilityError(source, problems)
    return DepartmentDirectory(departments, district_codes)


def _parse_one(
    raw: Any, index: int, district_codes: Collection[str]
) -> tuple[Department | None, list[str]]:
    """One entry, or the reasons it is not one (named by its id when it has one)."""
    if not isinstance(raw, Mapping):
        return None, [f"departments[{index}]: not a mapping"]
    raw_id = raw.get("id")
    label = (
        f"department {raw_id}" if isinstance(raw_id, str) and raw_id else f"departments[{index}]"
    )
    problems = [f"{label}: unknown field {key!r}" for key in raw if key not in _FIELDS]
    for key in _FIELDS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{label}: {key} must be a non-empty string")
    if problems:
        return None, problems
    try:
        department_type = DepartmentType(raw["type"])
    except ValueError:
        known = ", ".join(t.value for t in DepartmentType)
        return None, [f"{label}: unknown type {raw['type']!r} (known: {known})"]
    if raw["district_code"] not in district_codes:
        return None, [f"{label}: unknown district {raw['district_code']!r}"]
    return (
        Department(
            id=raw["id"].strip(),
            name_zh=raw["name_zh"].strip(),
            name_en=raw["name_en"].strip(),
            type=department_type,
            district_code=raw["district_code"],
        ),
        [],
    )
