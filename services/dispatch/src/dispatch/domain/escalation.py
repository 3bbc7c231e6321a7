"""督办: when a stage's clock raises a warning, a breach, and repeated breaches.

A clocked stage gets durable timers: a WARNING once a configured share of
its working time is used, a BREACH (level 1) at the deadline, then BREACH
again at rising levels every so many working hours until a maximum level.
Timers are rows in the store, so they survive restarts; this module only
says when each one fires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.domain.stages import Stage
from svckit.calendars import WorkingCalendar


class EscalationKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"  # 挂账: kept to be moved and re-armed when the case resumes


@dataclass(frozen=True)
class EscalationPolicy:
    """Configured in settings: share of the deadline for the warning, repeats after breach."""

    warning_share: float = 0.75
    repeat_every: timedelta = timedelta(hours=4)
    max_level: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.warning_share < 1:
            raise ValueError("warning_share must be between 0 and 1")
        if self.repeat_every <= timedelta(0) or self.max_level < 1:
            raise ValueError("repeat_every must be positive and max_level at least 1")


@dataclass(frozen=True)
class Firing:
    """One planned escalation: what and when."""

    kind: EscalationKind
    level: int
    fire_at: datetime


@dataclass
class Timer:
    """A durable timer row: one escalation of one stage of one case (and dispatch)."""

    timer_id: str
    case_id: str
    dispatch_id: str
    department_id: str
    stage: Stage
    kind: EscalationKind
    level: int
    fire_at: datetime
    started_at: datetime
    deadline: datetime
    status: TimerStatus = TimerStatus.PENDING
    fired_at: datetime | None = None


def plan(
    policy: EscalationPolicy, calendar: WorkingCalendar, *, started_at: datetime, deadline: datetime
) -> list[Firing]:
    """The first escalations of a stage: the warning and the breach."""
    warning = calendar.add(started_at, _share(calendar.between(started_at, deadline), policy))
    return [
        Firing(EscalationKind.WARNING, 1, warning),
        Firing(EscalationKind.BREACH, 1, deadline),
    ]


def after(policy: EscalationPolicy, calendar: WorkingCalendar, fired: Timer) -> Firing | None:
    """The escalation that follows one that fired: the next breach level, up to the maximum.

    Counted from when the fired one was *due*, not when it ran, so a service
    that was down catches up level by level at once instead of drifting late.
    """
    if fired.kind is not EscalationKind.BREACH or fired.level >= policy.max_level:
        return None
    return Firing(
        EscalationKind.BREACH, fired.level + 1, calendar.add(fired.fire_at, policy.repeat_every)
    )


def replan(
    policy: EscalationPolicy,
    calendar: WorkingCalendar,
    history: Sequence[Timer],
    *,
    started_at: datetime,
    deadline: datetime,
) -> list[Firing]:
    """The escalations still to come after the deadline moved (an extension, a new urgency).

    What fired stays fired: no second warning, and breaches continue at the
    next level from the new deadline.
    """
    fired = [t for t in history if t.status is TimerStatus.FIRED]
    if not fired:
        return plan(policy, calendar, started_at=started_at, deadline=deadline)
    level = max((t.level for t in fired if t.kind is EscalationKind.BREACH), default=0) + 1
    return [Firing(EscalationKind.BREACH, level, deadline)] if level <= policy.max_level else []


def current_cycle(history: Sequence[Timer]) -> list[Timer]:
    """The timers of a stage's latest clock run (a rework starts a new one)."""
    if not history:
        return []
    started = max(t.started_at for t in history)
    return [t for t in history if t.started_at == started]


def _share(total: timedelta, policy: EscalationPolicy) -> timedelta:
    return timedelta(seconds=round(total.total_seconds() * policy.warning_share))
