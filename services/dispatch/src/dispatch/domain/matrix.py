"""The responsibility matrix (权责清单): validated rules and the routing question.

"Who receives a case of this 小类 in this district on this date?" has exactly
one answer or none. Validation makes that true before the matrix is used:
every reference resolves, and two rules covering the same category, district
and day must say which wins (a higher ``precedence``). An ambiguity is refused
at load time, naming both rules, rather than resolved silently by file order.

The matrix is effective-dated and never forgets: routing at a past instant
uses the rules then in force, so "who would have received this on that
date?" is answerable for any date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.model import Decision, ResponsibilityError
from dispatch.domain.rules import ResponsibilityRule, parse_rule
from svckit.errors import InvalidArgumentError
from svckit.reference import Catalogue

_TOP_LEVEL = ("version", "timezone", "rules")


class ResponsibilityMatrix:
    """Validated rules over a catalogue and a department directory; immutable."""

    def __init__(
        self,
        rules: Iterable[ResponsibilityRule],
        *,
        version: str,
        timezone: tzinfo,
        catalogue: Catalogue,
        directory: DepartmentDirectory,
        source: str = "<memory>",
    ) -> None:
        """Check references, then overlaps; raises ``ResponsibilityError`` listing every problem."""
        self.rules: tuple[ResponsibilityRule, ...] = tuple(rules)
        self.version = version
        self.timezone = timezone
        self.catalogue = catalogue
        self.directory = directory
        self.source = source
        problems = reference_problems(self.rules, catalogue, directory)
        if not problems:
            problems = overlap_problems(self.rules, catalogue, directory.district_codes)
        if problems:
            raise ResponsibilityError(source, problems)

    def local_date(self, at: datetime) -> date:
        """The city's calendar date at an instant (rules are dated in local time)."""
        if at.tzinfo is None:
            raise ValueError("routing needs an aware datetime; use svckit.clock.utcnow()")
        return at.astimezone(self.timezone).date()

    def route(self, category_code: str, district_code: str, at: datetime) -> Decision | None:
        """The department responsible at ``at``, or ``None`` when no rule covers it.

        Raises ``InvalidArgumentError`` for a category not in the catalogue or a
        district the city does not have: those are wrong questions, not gaps.
        """
        category = self.catalogue.find(category_code)
        if category is None:
            raise InvalidArgumentError(f"unknown category code {category_code!r}")
        if district_code not in self.directory.district_codes:
            raise InvalidArgumentError(f"unknown district code {district_code!r}")
        day = self.local_date(at)
        candidates = [
            r for r in self.rules if r.in_force(day) and r.applies_to(category, district_code)
        ]
        if not candidates:
            return None
        rule = max(candidates, key=lambda r: r.precedence)
        return Decision(
            department_id=self._department_for(rule, district_code),
            rule_id=rule.id,
            rule_version=self.version,
            handling_hours=rule.handling_hours or category.handling_hours,
        )

    def gaps(self, on: date) -> list[tuple[str, str]]:
        """(category, district) pairs no rule covers on this day: cases that would be unroutable."""
        return [
            (category.code, district)
            for category in self.catalogue
            for district in self.directory.district_codes
            if not any(r.in_force(on) and r.applies_to(category, district) for r in self.rules)
        ]

    def _department_for(self, rule: ResponsibilityRule, district_code: str) -> str:
        if rule.department_id is not None:
            return rule.department_id
        assert rule.department_type is not None  # parse_rule guarantees one of the two
        department = self.directory.of_type(district_code, rule.department_type)
        assert department is not None  # reference_problems checked every covered district
        return department.id


def parse_matrix(
    data: Any,
    *,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    source: str = "<responsibility>",
) -> ResponsibilityMatrix:
    """Validate a parsed responsibility document; raises ``ResponsibilityError`` listing all problems."""
    if not isinstance(data, Mapping):
        raise ResponsibilityError(source, ["top level: expected a mapping"])
    problems = [f"top level: unknown field {key!r}" for key in data if key not in _TOP_LEVEL]
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append('top level: version must be a non-empty string like "2026.1"')
    timezone = _timezone(data.get("timezone"), problems)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ResponsibilityError(source, [*problems, "top level: rules must be a non-empty list"])
    rules: list[ResponsibilityRule] = []
    first_at: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule, rule_problems = parse_rule(raw, index)
        problems.extend(rule_problems)
        if rule is None:
            continue
        if rule.id in first_at:
            problems.append(f"rule {rule.id}: duplicate id (already at rules[{first_at[rule.id]}])")
            continue
        first_at[rule.id] = index
        rules.append(rule)
    if problems or timezone is None or not isinstance(version, str):
        raise ResponsibilityError(
            source, [*problems, *reference_problems(rules, catalogue, directory)]
        )
    return ResponsibilityMatrix(
        rules,
        version=version.strip(),
        timezone=timezone,
        catalogue=catalogue,
        directory=directory,
        source=source,
    )


def _timezone(value: Any, problems: list[str]) -> tzinfo | None:
    if not isinstance(value, str) or not value:
        problems.append("top level: timezone must be an IANA name like Asia/Shanghai")
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"top level: unknown timezone {value!r}")
        return None


def reference_problems(
    rules: Sequence[ResponsibilityRule], catalogue: Catalogue, directory: DepartmentDirectory
) -> list[str]:
    """Every category, district and department a rule names must exist."""
    problems: list[str] = []
    all_districts = directory.district_codes
    for rule in rules:
        label = f"rule {rule.id}"
        problems += [
            f"{label}: unknown category {c!r}"
            for c in sorted(rule.categories or ())
            if c not in catalogue
        ]
        problems += [
            f"{label}: unknown district {d!r}"
            for d in sorted(rule.districts or ())
            if d not in all_districts
        ]
        if rule.department_id is not None and rule.department_id not in directory:
            problems.append(f"{label}: unknown department {rule.department_id!r}")
        if rule.department_type is None:
            continue
        if rule.categories is None and not any(
            c.department_type == rule.department_type for c in catalogue
        ):
            problems.append(f"{label}: no catalogue category has type {rule.department_type.value}")
        for district in sorted(rule.districts or all_districts):
            if district in all_districts and not directory.of_type(district, rule.department_type):
                problems.append(
                    f"{label}: district {district} has no {rule.department_type.value} department"
                )
    return problems


def overlap_problems(
    rules: Sequence[ResponsibilityRule], catalogue: Catalogue, districts: Sequence[str]
) -> list[str]:
    """Pairs of rules of equal precedence in force for the same category, district and day.

    One problem per pair of rules, naming both and the first clash found, so a
    type-wide rule clashing in 30 places is reported once.
    """
    clashes: dict[tuple[ResponsibilityRule, ResponsibilityRule], list[tuple[str, str, date]]] = {}
    for category in catalogue:
        for district in districts:
            covering = [r for r in rules if r.applies_to(category, district)]
            for first, second in combinations(covering, 2):
                start = first.overlap_start(second)
                if first.precedence == second.precedence and start is not None:
                    clashes.setdefault((first, second), []).append((category.code, district, start))
    problems = []
    for (first, second), where in clashes.items():
        code, district, start = min(where, key=lambda w: w[2])
        more = f" (and {len(where) - 1} more category/district pairs)" if len(where) > 1 else ""
        problems.append(
            f"rules {first.id} and {second.id} overlap: both cover {code} in {district} "
            f"from {start}{more} with precedence {first.precedence}; give one a higher "
            "precedence or end one with effective_to"
        )
    return problems
