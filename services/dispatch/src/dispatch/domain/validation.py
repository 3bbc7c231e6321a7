"""Reference checks of rule versions: every category, area and department a rule names exists."""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.domain.context import MatrixContext
from dispatch.domain.rules import ResponsibilityRule
from dispatch.domain.versions import Segment
from svckit.reference import AreaLevel, UnknownAreaError


def reference_problems(segments: Sequence[Segment], context: MatrixContext) -> list[str]:
    """Problems naming each rule; a rule with several versions is reported once per problem."""
    problems: list[str] = []
    for segment in segments:
        rule, label = segment.rule, f"rule {segment.label}"
        problems += [
            f"{label}: unknown category {c!r}"
            for c in sorted(rule.categories or ())
            if c not in context.catalogue
        ]
        problems += _area_problems(rule, label, context)
        if rule.department_id is not None and rule.department_id not in context.directory:
            problems.append(f"{label}: unknown department {rule.department_id!r}")
        problems += _type_problems(rule, label, context)
        for field, names in (("assists", rule.assists), ("fallbacks", rule.fallbacks)):
            problems += _name_problems(rule, label, field, names, context)
    for name in context.fallbacks:
        missing = [
            d
            for d in context.directory.district_codes
            if context.directory.resolve(name, d) is None
        ]
        if name not in context.directory and missing:
            problems.append(
                f"top level: fallbacks names {name!r}, which is no department id and no "
                f"department type present in {', '.join(missing)}"
            )
    return list(dict.fromkeys(problems))


def _districts(rule: ResponsibilityRule, context: MatrixContext) -> list[str]:
    every = context.directory.district_codes
    return [d for d in every if rule.area.has_district(d)]


def _area_problems(rule: ResponsibilityRule, label: str, context: MatrixContext) -> list[str]:
    problems = [
        f"{label}: unknown district {d!r}"
        for d in sorted(rule.area.districts or ())
        if d not in context.directory.district_codes
    ]
    for level, codes in ((AreaLevel.STREET, rule.area.streets), (AreaLevel.GRID, rule.area.grids)):
        for code in sorted(codes):
            try:
                area = context.city_map.area(code)
            except UnknownAreaError:
                problems.append(f"{label}: unknown {level.value} {code!r}")
                continue
            district = _district_of(code, context)
            if area.level is not level:
                problems.append(f"{label}: {code} is a {area.level.value}, not a {level.value}")
            elif not rule.area.has_district(district):
                problems.append(f"{label}: {level.value} {code} is not in the rule's districts")
    return problems


def _district_of(code: str, context: MatrixContext) -> str:
    area = context.city_map.area(code)
    while area.parent_code:
        area = context.city_map.area(area.parent_code)
    return area.code


def _type_problems(rule: ResponsibilityRule, label: str, context: MatrixContext) -> list[str]:
    """A type-based target needs that type in every district the rule covers."""
    if rule.department_type is None:
        return []
    problems = []
    if rule.categories is None and not any(
        c.department_type == rule.department_type for c in context.catalogue
    ):
        problems.append(f"{label}: no catalogue category has type {rule.department_type.value}")
    if rule.manual:
        return problems
    for district in _districts(rule, context):
        if not context.directory.of_type(district, rule.department_type):
            problems.append(
                f"{label}: district {district} has no {rule.department_type.value} department"
            )
    return problems


def _name_problems(
    rule: ResponsibilityRule,
    label: str,
    field: str,
    names: Sequence[str],
    context: MatrixContext,
) -> list[str]:
    """Assists and fallbacks: a department id, or a type present in every covered district."""
    problems = []
    for name in names:
        if name in context.directory:
            continue
        missing = [
            d for d in _districts(rule, context) if context.directory.resolve(name, d) is None
        ]
        if missing:
            problems.append(
                f"{label}: {field} names {name!r}, which is no department id and no department "
                f"type present in {', '.join(missing)}"
            )
    return problems
