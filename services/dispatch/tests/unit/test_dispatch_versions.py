"""Rule versions: what each governs, and changes that never rewrite the past."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from dispatch.domain.areas import RuleArea
from dispatch.domain.rules import ResponsibilityRule
from dispatch.domain.versions import (
    RuleVersion,
    in_force_period,
    next_version,
    retirement,
    segments,
)
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

NOW = datetime(2026, 3, 2, 2, tzinfo=UTC)
TODAY = date(2026, 3, 2)
RULE = ResponsibilityRule(
    id="bikes",
    categories=frozenset({"E0506"}),
    area=RuleArea(frozenset({"D02"})),
    effective_from=date(2026, 1, 1),
    department_id="D02-transport",
)


def v(rule: ResponsibilityRule, version: int, *, retired: bool = False) -> RuleVersion:
    return RuleVersion(rule, version, NOW, "test", retired=retired)


def test_a_later_version_cuts_the_earlier_short() -> None:
    history = [v(RULE, 1), v(replace(RULE, effective_from=TODAY, department_id="D02-water"), 2)]
    cut = segments(history)
    assert [(s.version, s.rule.effective_from, s.rule.effective_to) for s in cut] == [
        (1, date(2026, 1, 1), TODAY),
        (2, TODAY, None),
    ]
    assert in_force_period(history, 1) == (date(2026, 1, 1), TODAY)
    assert cut[1].label == "bikes (v2)"


def test_a_version_replaced_before_it_began_governs_nothing() -> None:
    future = replace(RULE, effective_from=date(2026, 6, 1))
    history = [v(future, 1), v(replace(RULE, effective_from=TODAY), 2)]
    assert [s.version for s in segments(history)] == [2]
    assert in_force_period(history, 1) is None


def test_a_change_may_not_start_in_the_past() -> None:
    with pytest.raises(InvalidArgumentError, match="before today"):
        next_version([v(RULE, 1)], RULE, today=TODAY, now=NOW, source="grpc")
    made = next_version(
        [v(RULE, 1)], replace(RULE, effective_from=TODAY), today=TODAY, now=NOW, source="grpc"
    )
    assert made.version == 2


def test_retiring_ends_the_rule_on_a_date() -> None:
    history = [v(RULE, 1)]
    tombstone = retirement(
        history, "bikes", effective_to=date(2026, 4, 1), today=TODAY, now=NOW, source="grpc"
    )
    assert tombstone.retired and tombstone.version == 2
    ((only),) = [segments([*history, tombstone])]
    assert [(s.rule.effective_from, s.rule.effective_to) for s in only] == [
        (date(2026, 1, 1), date(2026, 4, 1))
    ]
    with pytest.raises(FailedPreconditionError, match="already retired"):
        retirement(
            [*history, tombstone], "bikes", effective_to=TODAY, today=TODAY, now=NOW, source="g"
        )
    with pytest.raises(NotFoundError):
        retirement([], "nope", effective_to=TODAY, today=TODAY, now=NOW, source="g")
    with pytest.raises(InvalidArgumentError, match="before today"):
        retirement(
            history, "bikes", effective_to=date(2026, 2, 1), today=TODAY, now=NOW, source="g"
        )
