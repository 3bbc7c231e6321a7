"""The responsibility matrix (权责清单): validated rule versions and the routing question.

"Who receives a case of this 小类 at this place on this date?" has exactly
one answer or none. Validation makes that true before the matrix is used,
whether it was built from the YAML file or after a change over gRPC:
every reference resolves, two rules covering the same category, place and
day must say which wins (a higher ``precedence``), and every 小类 has a
district-wide rule in every district from the catalogue's first day on
(a ``manual`` rule counts: it says "an operator decides"). Each problem
names the rules involved.

The matrix is effective-dated and never forgets: routing at a past instant
uses the rule versions then in force.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.domain.areas import Place, common_districts, may_overlap
from dispatch.domain.context import MatrixContext
from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.model import Decision, ResponsibilityError
from dispatch.domain.rules import ResponsibilityRule, parse_rule
from dispatch.domain.stages import Stage, lookup, parse_stage_table
from dispatch.domain.validation import reference_problems
from dispatch.domain.versions import Segment
from svckit.calendars import hours
from svckit.errors import InvalidArgumentError
from svckit.reference import Catalogue, Category, CityMap

_TOP_LEVEL = ("version", "timezone", "deadlines", "fallbacks", "rules")


@dataclass(frozen=True)
class CatalogueDocument:
    """The responsibility file, parsed: its context and its rules (not yet cross-checked)."""

    context: MatrixContext
    rules: tuple[ResponsibilityRule, ...]
    raw_rules: tuple[Mapping[str, Any], ...]


class ResponsibilityMatrix:
    """Validated rule segments over a context; immutable."""

    def __init__(
        self, segments: Sequence[Segment], context: MatrixContext, *, source: str = "<memory>"
    ) -> None:
        """Check references, then overlaps and gaps; raises ``ResponsibilityError`` listing all."""
        self.segments: tuple[Segment, ...] = tuple(segments)
        self.context = context
        self.source = source
        problems = reference_problems(self.segments, context)
        if not problems:
            problems = overlap_problems(self.segments, context) + gap_problems(
                self.segments, context
            )
        if problems:
            raise ResponsibilityError(source, problems)

    @property
    def catalogue(self) -> Catalogue:
        return self.context.catalogue

    @property
    def directory(self) -> DepartmentDirectory:
        return self.context.directory

    @property
    def timezone(self) -> tzinfo:
        return self.context.timezone

    def local_date(self, at: datetime) -> date:
        return self.context.local_date(at)

    def candidates(self, category_code: str, place: Place, at: datetime) -> list[Segment]:
        """Segments in force at ``at`` covering the case, the winner first.

        Raises ``InvalidArgumentError`` for a category not in the catalogue or a
        district the city does not have: those are wrong questions, not gaps.
        """
        category = self._category(category_code)
        if place.district_code not in self.directory.district_codes:
            raise InvalidArgumentError(f"unknown district code {place.district_code!r}")
        day = self.local_date(at)
        found = [
            s for s in self.segments if s.rule.in_force(day) and s.rule.applies_to(category, place)
        ]
        return sorted(found, key=lambda s: -s.rule.precedence)

    def route(
        self, category_code: str, place: Place, at: datetime, urgency: str = "default"
    ) -> Decision | None:
        """The decision at ``at``, or ``None`` when no rule covers it (before the catalogue began)."""
        found = self.candidates(category_code, place, at)
        if not found:
            return None
        return self._decision(found[0], category_code, place.district_code, urgency)

    def fallbacks(
        self,
        category_code: str,
        place: Place,
        at: datetime,
        *,
        exclude: Collection[str],
        urgency: str = "default",
    ) -> list[Decision]:
        """Where a returned case goes next, best first, never to a department in ``exclude``.

        The winning rule's own ``fallbacks``, then the leads of the
        lower-precedence rules that also cover the case, then the catalogue's
        ``fallbacks`` (typically 属地: the street offices).
        """
        found = self.candidates(category_code, place, at)
        if not found:
            return []
        winner, district = found[0], place.district_code
        chain = [(name, winner) for name in winner.rule.fallbacks]
        chain += [(_target(s.rule), s) for s in found[1:] if not s.rule.manual]
        chain += [(name, winner) for name in self.context.fallbacks]
        result: list[Decision] = []
        seen = set(exclude)
        for name, segment in chain:
            department = self.directory.resolve(name, district)
            if department is None or department.id in seen:
                continue
            seen.add(department.id)
            decision = self._decision(segment, category_code, district, urgency)
            result.append(_with_lead(decision, department.id))
        return result

    def rule_of(self, rule_id: str, version: str) -> ResponsibilityRule | None:
        """The rule version that made a decision; ``None`` for a person's (manual, arbitration)."""
        for segment in self.segments:
            if segment.rule.id == rule_id and str(segment.version) == version:
                return segment.rule
        return None

    def stage_hours(
        self, category_code: str, urgency: str, rule: ResponsibilityRule | None = None
    ) -> dict[Stage, timedelta]:
        """Working time per stage: the rule's, else the catalogue-wide, else the 小类's 处置时限."""
        category = self._category(category_code)
        result: dict[Stage, timedelta] = {}
        for stage in Stage:
            value = lookup(rule.deadlines, stage, urgency) if rule else None
            if value is None and stage is Stage.DISPOSAL and rule and rule.handling_hours:
                value = hours(rule.handling_hours)
            if value is None:
                value = lookup(self.context.deadlines, stage, urgency)
            if value is None and stage is Stage.DISPOSAL:
                value = hours(category.handling_hours)
            if value is not None:
                result[stage] = value
        return result

    def _decision(
        self, segment: Segment, category_code: str, district: str, urgency: str
    ) -> Decision:
        rule = segment.rule
        category = self._category(category_code)
        lead = "" if rule.manual else _resolved(self.directory, _target(rule), district)
        assists = [_resolved(self.directory, name, district) for name in rule.assists]
        return Decision(
            department_id=lead,
            rule_id=rule.id,
            rule_version=str(segment.version),
            stage_hours=self.stage_hours(category_code, urgency, rule),
            assist_ids=tuple(dict.fromkeys(a for a in assists if a and a != lead)),
            manual=rule.manual,
            closing_criteria_zh=rule.closing_criteria_zh or category.closing_criteria_zh,
            closing_criteria_en=rule.closing_criteria_en or category.closing_criteria_en,
        )

    def _category(self, code: str) -> Category:
        category = self.catalogue.find(code)
        if category is None:
            raise InvalidArgumentError(f"unknown category code {code!r}")
        return category


def _target(rule: ResponsibilityRule) -> str:
    if rule.department_id:
        return rule.department_id
    return rule.department_type.value if rule.department_type else ""


def _resolved(directory: DepartmentDirectory, name: str, district: str) -> str:
    department = directory.resolve(name, district)
    return department.id if department else ""


def _with_lead(decision: Decision, department_id: str) -> Decision:
    return Decision(
        department_id=department_id,
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        stage_hours=decision.stage_hours,
        closing_criteria_zh=decision.closing_criteria_zh,
        closing_criteria_en=decision.closing_criteria_en,
    )


def overlap_problems(segments: Sequence[Segment], context: MatrixContext) -> list[str]:
    """Pairs of rules of equal precedence that could both claim one case on one day.

    One problem per pair of rules, naming both and the first clash, so a
    type-wide rule clashing in 30 places is reported once.
    """
    codes = [c.code for c in context.catalogue]
    covered = [_codes_of(s.rule, context.catalogue) for s in segments]
    districts = context.directory.district_codes
    problems = []
    for (i, first), (j, second) in combinations(enumerate(segments), 2):
        a, b = first.rule, second.rule
        if a.id == b.id or a.precedence != b.precedence:
            continue
        start = a.overlap_start(b)
        common = [c for c in codes if c in covered[i] and c in covered[j]]
        places = common_districts(a.area, b.area, districts)
        if start is None or not common or not places:
            continue
        if not may_overlap(a.area, b.area, context.city_map):
            continue
        pairs = len(common) * len(places)
        more = f" (and {pairs - 1} more category/district pairs)" if pairs > 1 else ""
        narrowing = a.area.describe() or b.area.describe()
        problems.append(
            f"rules {first.label} and {second.label} overlap: both cover {common[0]} in "
            f"{places[0]}{narrowing} from {start}{more} with precedence {a.precedence}; "
            "give one a higher precedence or end one with effective_to"
        )
    return problems


def gap_problems(segments: Sequence[Segment], context: MatrixContext) -> list[str]:
    """(category, district) pairs without a district-wide rule on some day since the first rule.

    Grouped by the day the gap opens and the rules that end then, so one
    rule ending too early is one problem naming it.
    """
    if not segments:
        return ["the catalogue has no rules in force"]
    start = min(s.rule.effective_from for s in segments)
    days = sorted({start} | {s.rule.effective_from for s in segments} | _ends(segments))
    covered = [_codes_of(s.rule, context.catalogue) for s in segments]
    gaps: dict[tuple[date, tuple[str, ...]], list[tuple[str, str]]] = {}
    for category in context.catalogue:
        for district in context.directory.district_codes:
            covering = [
                s
                for s, codes in zip(segments, covered, strict=True)
                if category.code in codes
                and s.rule.area.district_wide
                and s.rule.area.has_district(district)
            ]
            day = next((d for d in days if not any(s.rule.in_force(d) for s in covering)), None)
            if day is None:
                continue
            ended = tuple(sorted(s.label for s in covering if s.rule.effective_to == day))
            gaps.setdefault((day, ended), []).append((category.code, district))
    problems = []
    for (day, ended), where in gaps.items():
        code, district = where[0]
        why = f" when rule {', '.join(ended)} ends" if ended else ""
        more = f" (and {len(where) - 1} more category/district pairs)" if len(where) > 1 else ""
        problems.append(
            f"no rule covers {code} in {district} from {day}{why}{more}; add a rule, or a rule "
            "with manual: true to send such cases to the manual dispatch queue"
        )
    return problems


def _ends(segments: Sequence[Segment]) -> set[date]:
    return {s.rule.effective_to for s in segments if s.rule.effective_to is not None}


def _codes_of(rule: ResponsibilityRule, catalogue: Catalogue) -> frozenset[str]:
    if rule.categories is not None:
        return rule.categories
    return frozenset(c.code for c in catalogue if c.department_type == rule.department_type)


def parse_document(
    data: Any,
    *,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    city_map: CityMap,
    source: str = "<responsibility>",
) -> CatalogueDocument:
    """The responsibility file: top level and each rule on its own; raises ``ResponsibilityError``."""
    if not isinstance(data, Mapping):
        raise ResponsibilityError(source, ["top level: expected a mapping"])
    problems = [f"top level: unknown field {key!r}" for key in data if key not in _TOP_LEVEL]
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append('top level: version must be a non-empty string like "2026.1"')
    timezone = _timezone(data.get("timezone"), problems)
    deadlines = parse_stage_table(data.get("deadlines"), "top level", problems)
    fallbacks = data.get("fallbacks") or []
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        problems.append("top level: fallbacks must be a list of department types or ids")
        fallbacks = []
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
    context = MatrixContext(
        catalogue=catalogue,
        directory=directory,
        city_map=city_map,
        timezone=timezone or ZoneInfo("UTC"),
        deadlines=deadlines,
        fallbacks=tuple(fallbacks),
        version=version.strip() if isinstance(version, str) else "",
    )
    if problems or timezone is None:
        segments = [Segment(rule, 1) for rule in rules]
        raise ResponsibilityError(source, [*problems, *reference_problems(segments, context)])
    return CatalogueDocument(context=context, rules=tuple(rules), raw_rules=tuple(raw_rules))


def parse_matrix(
    data: Any,
    *,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    city_map: CityMap,
    source: str = "<responsibility>",
) -> ResponsibilityMatrix:
    """The file alone as a matrix, every rule at version 1 (the command line's view)."""
    document = parse_document(
        data, catalogue=catalogue, directory=directory, city_map=city_map, source=source
    )
    return ResponsibilityMatrix(
        [Segment(rule, 1) for rule in document.rules], document.context, source=source
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
