"""One responsibility rule (an entry of the 权责清单), parsed and checked on its own.

The same parser reads a rule from the YAML file, from a gRPC upsert and
from the store, so every path applies the same checks. Cross-rule checks
(references, overlaps, gaps) need the catalogue, the departments and the
city map and live in ``dispatch.domain.matrix``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dispatch.domain.areas import Place, Point, RuleArea
from dispatch.domain.stages import StageTable, parse_stage_table, table_to_mapping
from svckit.reference import Category, DepartmentType
from svckit.reference.problems import parse_date

ANY = "*"
_FIELDS = (
    "id",
    "categories",
    "department_type",
    "department",
    "manual",
    "assists",
    "districts",
    "streets",
    "grids",
    "polygon",
    "effective_from",
    "effective_to",
    "handling_hours",
    "precedence",
    "deadlines",
    "fallbacks",
    "closing_criteria_zh",
    "closing_criteria_en",
)


@dataclass(frozen=True, eq=True)
class ResponsibilityRule:
    """Who handles which categories where, over which period.

    ``categories is None`` means every category whose catalogue department type
    is ``department_type``. The period is ``[effective_from, effective_to)`` in
    the city's local dates, so a successor starting on the day its predecessor
    ends does not overlap it. A ``manual`` rule routes to nobody: its cases
    wait in the manual dispatch queue (an explicit "no automatic answer").
    ``assists`` and ``fallbacks`` name department types (resolved in the
    case's district) or department ids.
    """

    id: str
    categories: frozenset[str] | None
    area: RuleArea
    effective_from: date
    department_type: DepartmentType | None = None
    department_id: str | None = None
    effective_to: date | None = None
    handling_hours: float | None = None
    precedence: int = 0
    manual: bool = False
    assists: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    deadlines: StageTable = field(default_factory=dict)
    closing_criteria_zh: str = ""
    closing_criteria_en: str = ""

    __hash__ = None  # type: ignore[assignment]  # deadlines is a mapping

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def covers_category(self, category: Category) -> bool:
        if self.categories is None:
            return category.department_type == self.department_type
        return category.code in self.categories

    def applies_to(self, category: Category, place: Place) -> bool:
        """Whether the rule covers this category at this place (on some day)."""
        return self.covers_category(category) and self.area.contains(place)

    def overlap_start(self, other: ResponsibilityRule) -> date | None:
        """The first day both rules are in force, or ``None`` if their periods are disjoint."""
        start = max(self.effective_from, other.effective_from)
        ends = [d for d in (self.effective_to, other.effective_to) if d is not None]
        if ends and start >= min(ends):
            return None
        return start

    def to_mapping(self) -> dict[str, Any]:
        """The rule in its YAML shape (dates as ISO strings): what the store keeps."""
        raw: dict[str, Any] = {
            "id": self.id,
            "categories": [ANY] if self.categories is None else sorted(self.categories),
            "districts": [ANY] if self.area.districts is None else sorted(self.area.districts),
            "effective_from": self.effective_from.isoformat(),
        }
        optional: dict[str, Any] = {
            "department_type": self.department_type.value if self.department_type else None,
            "department": self.department_id,
            "manual": self.manual or None,
            "assists": list(self.assists) or None,
            "streets": sorted(self.area.streets) or None,
            "grids": sorted(self.area.grids) or None,
            "polygon": [list(p) for p in self.area.polygon] or None,
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "handling_hours": self.handling_hours,
            "precedence": self.precedence or None,
            "deadlines": table_to_mapping(self.deadlines) or None,
            "fallbacks": list(self.fallbacks) or None,
            "closing_criteria_zh": self.closing_criteria_zh or None,
            "closing_criteria_en": self.closing_criteria_en or None,
        }
        raw.update({k: v for k, v in optional.items() if v is not None})
        return raw


def parse_rule(raw: Any, index: int) -> tuple[ResponsibilityRule | None, list[str]]:
    """A rule from its mapping (YAML, gRPC or store), or every reason it is not one."""
    if not isinstance(raw, Mapping):
        return None, [f"rules[{index}]: not a mapping"]
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        return None, [f"rules[{index}]: id must be a non-empty string"]
    label = f"rule {rule_id}"
    problems = [f"{label}: unknown field {key!r}" for key in raw if key not in _FIELDS]

    categories = _code_list(raw.get("categories"), "categories", label, problems)
    manual = raw.get("manual", False)
    if not isinstance(manual, bool):
        problems.append(f"{label}: manual must be true or false")
        manual = False
    department_type, department_id = _target(raw, label, categories, manual, problems)
    area = _area(raw, label, problems)
    effective_from = parse_date(raw.get("effective_from"), "effective_from", label, problems)
    effective_to = None
    if raw.get("effective_to") is not None:
        effective_to = parse_date(raw["effective_to"], "effective_to", label, problems)
    if effective_from and effective_to and effective_to <= effective_from:
        problems.append(f"{label}: effective_to {effective_to} must be after effective_from")
    handling_hours = raw.get("handling_hours")
    if handling_hours is not None and not _positive_number(handling_hours):
        problems.append(f"{label}: handling_hours must be positive hours (got {handling_hours!r})")
    precedence = raw.get("precedence", 0)
    if not _is_int(precedence):
        problems.append(f"{label}: precedence must be an integer (got {precedence!r})")
    assists = _names(raw.get("assists"), "assists", label, problems)
    fallbacks = _names(raw.get("fallbacks"), "fallbacks", label, problems)
    if manual and (assists or fallbacks):
        problems.append(f"{label}: a manual rule names no assists or fallbacks")
    deadlines = parse_stage_table(raw.get("deadlines"), label, problems)
    criteria = {k: raw.get(k) or "" for k in ("closing_criteria_zh", "closing_criteria_en")}
    problems += [
        f"{label}: {k} must be a string" for k, v in criteria.items() if not isinstance(v, str)
    ]
    if problems or effective_from is None or area is None:
        return None, problems
    return (
        ResponsibilityRule(
            id=rule_id.strip(),
            categories=None if categories == ANY else frozenset(categories or ()),
            area=area,
            effective_from=effective_from,
            department_type=department_type,
            department_id=department_id,
            effective_to=effective_to,
            handling_hours=float(handling_hours) if handling_hours is not None else None,
            precedence=precedence,
            manual=manual,
            assists=assists,
            fallbacks=fallbacks,
            deadlines=deadlines,
            closing_criteria_zh=str(criteria["closing_criteria_zh"]),
            closing_criteria_en=str(criteria["closing_criteria_en"]),
        ),
        [],
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


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


def _names(value: Any, field: str, label: str, problems: list[str]) -> tuple[str, ...]:
    """An optional list of department types or ids."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{label}: {field} must be a list of department types or ids")
        return ()
    if len(set(value)) != len(value):
        problems.append(f"{label}: {field} names a department twice")
    return tuple(v.strip() for v in value)


def _target(
    raw: Mapping[str, Any],
    label: str,
    categories: list[str] | str | None,
    manual: bool,
    problems: list[str],
) -> tuple[DepartmentType | None, str | None]:
    """Exactly one of department_type / department (a manual rule: no department)."""
    raw_type, raw_department = raw.get("department_type"), raw.get("department")
    if manual:
        if raw_department is not None:
            problems.append(f"{label}: a manual rule routes to nobody; remove department")
        if categories == ANY and raw_type is None:
            problems.append(f'{label}: categories ["*"] needs department_type to say which ones')
        return _department_type(raw_type, label, problems) if raw_type else None, None
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
    return _department_type(raw_type, label, problems), None


def _department_type(raw_type: Any, label: str, problems: list[str]) -> DepartmentType | None:
    try:
        return DepartmentType(str(raw_type))
    except ValueError:
        known = ", ".join(t.value for t in DepartmentType)
        problems.append(f"{label}: unknown department_type {raw_type!r} (known: {known})")
        return None


def _area(raw: Mapping[str, Any], label: str, problems: list[str]) -> RuleArea | None:
    districts = _code_list(raw.get("districts"), "districts", label, problems)
    narrowings = [k for k in ("streets", "grids", "polygon") if raw.get(k) is not None]
    if len(narrowings) > 1:
        problems.append(f"{label}: give at most one of streets, grids and polygon")
        return None
    streets = grids = None
    if raw.get("streets") is not None:
        streets = _code_list(raw["streets"], "streets", label, problems)
    if raw.get("grids") is not None:
        grids = _code_list(raw["grids"], "grids", label, problems)
    if ANY in (streets, grids):
        problems.append(f'{label}: streets and grids take codes, not ["*"]')
        return None
    polygon = _polygon(raw.get("polygon"), label, problems)
    if districts is None:
        return None
    return RuleArea(
        districts=None if districts == ANY else frozenset(districts),
        streets=frozenset(streets or ()),
        grids=frozenset(grids or ()),
        polygon=polygon,
    )


def _polygon(value: Any, label: str, problems: list[str]) -> tuple[Point, ...]:
    if value is None:
        return ()
    points: list[Point] = []
    if isinstance(value, list):
        for item in value:
            if (
                isinstance(item, list | tuple)
                and len(item) == 2
                and all(_is_number(v) for v in item)
                and -90 <= item[0] <= 90
                and -180 <= item[1] <= 180
            ):
                points.append((float(item[0]), float(item[1])))
    if not isinstance(value, list) or len(points) != len(value) or len(points) < 3:
        problems.append(f"{label}: polygon must list at least 3 [latitude, longitude] points")
        return ()
    return tuple(points)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
