"""考核评价 (GB/T 30428.4 lineage): the figures of a period per department or
district, each naming its cases, and the 综合指标值 by a published formula.

Definitions (docs/audit.md gives them with examples), all as of the period
end E, for a period [S, E):

- 受理数 accepted: cases whose first intake decision (filed, rejected,
  merged) falls in [S, E).
- 立案数 filed: accepted cases that were filed.            立案率 = 立案数 / 受理数
- 派遣数 dispatched: filed cases dispatched before E.      派遣率 = 派遣数 / 立案数
- 应结案数 due: dispatched cases, not 挂账, whose deadline (after approved
  extensions) falls in [S, E), or that were closed in [S, E).
- 结案数 closed: due cases closed before E.               结案率 = 结案数 / 应结案数
- 按期结案数 on time: closed cases whose work was reported done (the last
  completion before the closure) by the deadline.     按期结案率 = 按期结案数 / 应结案数
- 返工数 rework: due cases sent back (返工) at least once. 返工率 = 返工数 / 应结案数
- 延期数 extended: due cases with an approved extension.  延期率 = 延期数 / 应结案数
- 平均处置时长 average handling hours: over closed cases, from the dispatch
  to the current lead department to that last completion, in clock hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from audit.domain.case_history import CaseHistory


class GroupBy(StrEnum):
    DEPARTMENT = "department"
    DISTRICT = "district"


COUNTS = {
    "accepted": "受理数",
    "filed": "立案数",
    "dispatched": "派遣数",
    "due": "应结案数",
    "closed": "结案数",
    "closed_on_time": "按期结案数",
    "rework": "返工数",
    "extended": "延期数",
}
# rate code → (name, numerator count, denominator count)
RATES = {
    "filing_rate": ("立案率", "filed", "accepted"),
    "dispatch_rate": ("派遣率", "dispatched", "filed"),
    "closing_rate": ("结案率", "closed", "due"),
    "on_time_rate": ("按期结案率", "closed_on_time", "due"),
    "rework_rate": ("返工率", "rework", "due"),
    "extension_rate": ("延期率", "extended", "due"),
}
AVERAGE_HOURS = ("avg_handling_hours", "平均处置时长（小时）")
COMPOSITE = ("composite_score", "综合指标值")


@dataclass(frozen=True)
class Term:
    indicator: str
    weight: float
    lower_is_better: bool = False


@dataclass(frozen=True)
class Formula:
    """The published, versioned 综合指标值 formula (config/audit/evaluation.yaml)."""

    version: str
    terms: Mapping[GroupBy, tuple[Term, ...]]
    scale: float = 100.0

    def text(self, group_by: GroupBy) -> str:
        parts = []
        for term in self.terms[group_by]:
            name = RATES[term.indicator][0]
            parts.append(f"{term.weight:g}×" + (f"(1−{name})" if term.lower_is_better else name))
        return (
            f"{COMPOSITE[1]} = {self.scale:g} × ({' + '.join(parts)}) ÷ Σ权重"
            "（无定义的比率不计入，其权重亦不计入 Σ权重）"
        )


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Figure:
    code: str
    name_zh: str
    value: float
    defined: bool = True
    numerator: int = 0
    denominator: int = 0
    case_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    group_key: str
    figures: tuple[Figure, ...]

    def figure(self, code: str) -> Figure:
        return next(f for f in self.figures if f.code == code)


@dataclass(frozen=True)
class Evaluation:
    period: Period
    group_by: GroupBy
    formula_version: str
    formula_text: str
    rows: tuple[Row, ...]
    excluded: tuple[tuple[str, str], ...]


NO_DEPARTMENT = "未派遣，无责任单位（not dispatched: no responsible department）"
NO_DISTRICT = "无所属区（no district on record）"
NO_DEADLINE = (
    "派遣未给出处置时限，不计入应结案（dispatched without a deadline: not counted as due）"
)
NOT_DUE = "{}：未经处置而终结，不计入应结案（ended without disposal: not counted as due）"


def evaluate(
    histories: Iterable[CaseHistory], period: Period, group_by: GroupBy, formula: Formula
) -> Evaluation:
    """Every figure of every group, and the cases left out with why."""
    sets: dict[str, dict[str, set[str]]] = {}
    hours: dict[str, list[tuple[str, float]]] = {}
    excluded: dict[str, str] = {}
    key_of = _key_function(group_by)
    for h in histories:
        if h.unreadable:
            excluded[h.case_id] = h.unreadable[0]
            continue
        memberships, hour, reason = _classify(h, period)
        if not memberships and reason is None:
            continue
        key, missing = key_of(h)
        if not key:
            excluded[h.case_id] = missing
            continue
        if reason:
            excluded[h.case_id] = reason
        group = sets.setdefault(key, {code: set() for code in COUNTS})
        for code in memberships:
            group[code].add(h.case_id)
        if hour is not None:
            hours.setdefault(key, []).append((h.case_id, hour))
    rows = tuple(
        _row(key, sets[key], hours.get(key, []), formula.terms[group_by], formula.scale)
        for key in sorted(sets)
    )
    return Evaluation(
        period=period,
        group_by=group_by,
        formula_version=formula.version,
        formula_text=formula.text(group_by),
        rows=rows,
        excluded=tuple(sorted(excluded.items())),
    )


def _key_function(group_by: GroupBy) -> Callable[[CaseHistory], tuple[str, str]]:
    if group_by is GroupBy.DEPARTMENT:
        return lambda h: (h.department_id, NO_DEPARTMENT)
    return lambda h: (h.district_code, NO_DISTRICT)


def _classify(h: CaseHistory, p: Period) -> tuple[list[str], float | None, str | None]:
    """The count sets the case belongs to, its handling hours (when it counts
    towards the average) and why it is left out of the due figures (if so)."""
    found: list[str] = []
    if _within(h.intake_at, p):
        found.append("accepted")
        if h.filed_at is not None:
            found.append("filed")
            if h.dispatched_at is not None:
                found.append("dispatched")
    closed_in_period, due_in_period = _within(h.closed_at, p), _within(h.deadline, p)
    if h.dispatched_at is None or not (closed_in_period or due_in_period or found):
        return found, None, None
    if h.ended_without_disposal:
        return found, None, NOT_DUE.format(h.ended_without_disposal)
    if h.deadline is None:
        return found, None, NO_DEADLINE
    if not (closed_in_period or due_in_period):
        return found, None, None
    found.append("due")
    found += [code for code, flag in (("rework", h.reworked), ("extended", h.extended)) if flag]
    if h.closed_at is None or h.closed_at >= p.end:
        return found, None, None
    found.append("closed")
    done, start = h.completed_for_closure, h.lead_dispatched_at
    if done is not None and done <= h.deadline:
        found.append("closed_on_time")
    hour = (done - start).total_seconds() / 3600 if done and start and done >= start else None
    return found, hour, None


def _within(at: datetime | None, p: Period) -> bool:
    return at is not None and p.start <= at < p.end


def _row(
    key: str,
    sets: Mapping[str, set[str]],
    hours: Sequence[tuple[str, float]],
    terms: Sequence[Term],
    scale: float,
) -> Row:
    figures = {
        code: Figure(
            code, name, len(sets[code]), True, len(sets[code]), 0, tuple(sorted(sets[code]))
        )
        for code, name in COUNTS.items()
    }
    for code, (name, top, bottom) in RATES.items():
        n, d = len(sets[top]), len(sets[bottom])
        figures[code] = Figure(
            code, name, n / d if d else 0.0, d > 0, n, d, tuple(sorted(sets[top]))
        )
    code, name = AVERAGE_HOURS
    mean = sum(h for _, h in hours) / len(hours) if hours else 0.0
    figures[code] = Figure(
        code, name, round(mean, 2), bool(hours), len(hours), 0, tuple(sorted(c for c, _ in hours))
    )
    figures[COMPOSITE[0]] = _composite(figures, sets, terms, scale)
    return Row(key, tuple(figures.values()))


def _composite(
    figures: Mapping[str, Figure], sets: Mapping[str, set[str]], terms: Sequence[Term], scale: float
) -> Figure:
    weighted, weights, cases = 0.0, 0.0, set[str]()
    for term in terms:
        rate = figures[term.indicator]
        if not rate.defined:
            continue
        weighted += term.weight * ((1 - rate.value) if term.lower_is_better else rate.value)
        weights += term.weight
        cases |= sets[RATES[term.indicator][2]]
    value = round(scale * weighted / weights, 2) if weights else 0.0
    return Figure(COMPOSITE[0], COMPOSITE[1], value, weights > 0, 0, 0, tuple(sorted(cases)))
