"""督办 planning: the warning share, the breach, repeated breaches, re-planning after an extension."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.domain.escalation import (
    EscalationKind,
    EscalationPolicy,
    Timer,
    TimerStatus,
    after,
    plan,
    replan,
)
from dispatch.domain.stages import Stage
from services.dispatch.tests.dispatch_testing import local
from svckit.calendars import WorkingCalendar

OFFICE = WorkingCalendar(
    "office", ZoneInfo("Asia/Shanghai"), frozenset(range(5)), ((540, 720), (810, 1080))
)
POLICY = EscalationPolicy(warning_share=0.75, repeat_every=timedelta(hours=2), max_level=3)
START = local(2026, 3, 2, 11, 0)
DEADLINE = local(2026, 3, 2, 14, 30)  # 2 working hours later


def timer(kind: EscalationKind, level: int, status: TimerStatus) -> Timer:
    return Timer(
        "t",
        "C-1",
        "D-1",
        "D02-water",
        Stage.DISPOSAL,
        kind,
        level,
        DEADLINE,
        START,
        DEADLINE,
        status,
    )


def test_the_warning_comes_at_the_share_of_working_time_and_the_breach_at_the_deadline() -> None:
    warning, breach = plan(POLICY, OFFICE, started_at=START, deadline=DEADLINE)
    assert (warning.kind, warning.fire_at) == (EscalationKind.WARNING, local(2026, 3, 2, 14, 0))
    assert (breach.kind, breach.level, breach.fire_at) == (EscalationKind.BREACH, 1, DEADLINE)


def test_breaches_repeat_in_working_time_up_to_the_maximum_level() -> None:
    second = after(POLICY, OFFICE, timer(EscalationKind.BREACH, 1, TimerStatus.FIRED))
    assert second is not None and (second.level, second.fire_at) == (2, local(2026, 3, 2, 16, 30))
    assert after(POLICY, OFFICE, timer(EscalationKind.BREACH, 3, TimerStatus.FIRED)) is None
    assert after(POLICY, OFFICE, timer(EscalationKind.WARNING, 1, TimerStatus.FIRED)) is None


def test_after_an_extension_what_fired_stays_fired() -> None:
    later = local(2026, 3, 3, 12, 0)
    fresh = replan(POLICY, OFFICE, [], started_at=START, deadline=later)
    assert [f.kind for f in fresh] == [EscalationKind.WARNING, EscalationKind.BREACH]
    warned = replan(
        POLICY,
        OFFICE,
        [timer(EscalationKind.WARNING, 1, TimerStatus.FIRED)],
        started_at=START,
        deadline=later,
    )
    assert [(f.kind, f.level, f.fire_at) for f in warned] == [(EscalationKind.BREACH, 1, later)]
    breached = replan(
        POLICY,
        OFFICE,
        [
            timer(EscalationKind.WARNING, 1, TimerStatus.FIRED),
            timer(EscalationKind.BREACH, 1, TimerStatus.FIRED),
        ],
        started_at=START,
        deadline=later,
    )
    assert [(f.kind, f.level) for f in breached] == [(EscalationKind.BREACH, 2)]


def test_a_policy_must_make_sense() -> None:
    with pytest.raises(ValueError):
        EscalationPolicy(warning_share=1.5)
    with pytest.raises(ValueError):
        EscalationPolicy(max_level=0)
