"""One responsibility rule (an entry of the 权责清单), parsed and checked on its own.

Cross-rule checks (unknown categories and departments, overlaps) need the
catalogue and the departments and live in ``dispatch.domain.matrix``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from svckit.reference import Category, DepartmentType

ANY = "*"
_FIELDS = (
    "id",
    "categories",
    "department_type",
    "department",
    "districts",
    "effective_from",
    "effective_to",
    "handling_hours",
    "precedence",
)


@dataclass(frozen=True)
class ResponsibilityRule:
    """Who handles which categories where, over which period.

    ``categories is None`` means every category whose catalogue department type
    is ``department_type``; ``districts is None`` means every district. The
    period is ``[effective_from, effective_to)`` in the city's local dates, so a
    successor starting on the day its predecessor ends does not overlap it.
    """

    id: str
    categories: frozenset[str] | None
    districts: frozenset[str] | None
    effective_from: date
    department_type: DepartmentType | None = None
    department_id: str | None = None
    effective_to: date | None = None
    handling_hours: int | None = None
    precedence: int = 0

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def applies_to(self, category: Category, district_code: str) -> bool:
        """Whether the rule covers this category in this district (on some day)."""
        if self.districts is not None and district_code not in self.districts:
            return False
        if self.categories is None:
            return category.department_type == self.department_type
        return category.code in self.categories

    def overlap_start(self, other: ResponsibilityRule) -> date | None:
        """The first day both rules are in force, or ``None`` if their periods are disjoint."""
        start = max(self.effective_from, other.effective_from)
        ends = [d for d in (self.effective_to, other.effective_to) if d is not None]
        if ends and start >= min(ends):
            return None
        return start


def parse_rule(raw: Any, index: int) -> tuple[ResponsibilityRule | None, list[str]]:
    """A rule from its parsed YAML mapping, or every reason it is not one."""
    if not isinstance(raw, Mapping):
        return None, [f"rules[{index}]: not a mapping"]
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        return None, [f"rules[{index}]: id must be a non-empty string"]
    label = f"rule {rule_id}"
    problems = [f"{label}: unknown field {key!r}" for key in raw if key not in _FIELDS]

    categories = _code_list(raw.get("categories"), "categories", label, problems)
    districts = _code_list(raw.get("districts"), "districts", label, problems)
    department_type, department_id = _target(raw, label, categories, problems)
    effective_from = _date(raw.get("effective_from"), "effective_from", label, problems)
    effective_to = None
    if raw.get("effective_to") is not None:
        effective_to = _date(raw["effective_to"], "effective_to", label, problems)
    if effective_from and effective_to and effective_to <= effective_from:
        problems.append(f"{label}: effective_to {effective_to} must be after effective_from")
    handling_hours = raw.get("handling_hours")
    if handling_hours is not None and not (_is_int(handling_hours) and handling_hours > 0):
        problems.append(
            f"{label}: handling_hours must be a positive integer (got {handling_hours!r})"
        )
    precedence = raw.get("precedence", 0)
    if not _is_int(precedence):
        problems.append(f"{label}: precedence must be an integer (got {precedence!r})")
    if problems or effective_from is None:
        return None, problems
    return (
        ResponsibilityRule(
            id=rule_id.strip(),
            categories=None if categories == ANY else frozenset(categories or ()),
            districts=None if districts == ANY else frozenset(districts or ()),
            effective_from=effective_from,
            department_type=department_type,
            department_id=department_id,
            effective_to=effective_to,
            handling_hours=handling_hours,
            precedence=precedence,
        ),
        [],
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _code_list(value: Any, field: str, label: str, problems: list[str]) -> list[str] | str | None:
    """A list of codes, or ``ANY`` for ``["*"]``; ``None`` (with a problem) when malformed."""
    if not isinstance(value, list) or not value:
        problems.append(f'{label}: {field} must be a non-empty list of codes or ["*"]')
        return None
    if not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{label}: {field} must contain only non-empty strings (got {value!r})")
        return None
    if ANY in value:
        if len(value) > 1:
            problems.append(f'{label}: {field} ["*"] cannot be combined with codes')
            return None
        return ANY
    if len(set(value)) != len(value):
        problems.append(f"{label}: {field} lists a code twice")
    return [v.strip() for v in value]


def _target(
    raw: Mapping[str, Any], label: str, categories: list[str] | str | None, problems: list[str]
) -> tuple[DepartmentType | None, str | None]:
    """Exactly one of department_type / department; ``["*"]`` categories need the type."""
    raw_type, raw_department = raw.get("department_type"), raw.get("department")
    if (raw_type is None) == (raw_department is None):
        problems.append(f"{label}: give exactly one of department_type and department")
        return None, None
    if raw_department is not None:
        if not isinstance(raw_department, str) or not raw_department.strip():
            problems.append(f"{label}: department must be a non-empty string")
            return None, None
        if categories == ANY:
            problems.append(
                f'{label}: categories ["*"] means "every category of a department_type"; '
                "it needs department_type, not department"
            )
        return None, raw_department.strip()
    try:
        return DepartmentType(str(raw_type)), None
    except ValueError:
        known = ", ".join(t.value for t in DepartmentType)
        problems.append(f"{label}: unknown department_type {raw_type!r} (known: {known})")
        return None, None


def _date(value: Any, field: str, label: str, problems: list[str]) -> date | None:
    """A calendar date from YAML (already a ``date``) or an ISO string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{label}: {field} must be a date like 2026-01-01 (got {value!r})")
    return None
