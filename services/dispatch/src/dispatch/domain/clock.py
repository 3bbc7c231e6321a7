"""The clock dispatch reads: injectable, so deadlines and escalations can be tested in minutes.

Every decision, deadline and escalation reads ``Clock.now()`` rather than the
system time, so a test (or a what-if replay) can run a working day in
seconds and a restarted service can be shown to escalate exactly when its
durable timers say, not when the wall clock happens to get there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from svckit.clock import utcnow


class Clock(Protocol):
    """Something that tells the time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time; what the service runs with."""

    def now(self) -> datetime:
        return utcnow()


class SimulatedClock:
    """A clock that moves only when told to; for tests and replays."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = _aware(at)

    def advance(self, by: timedelta) -> None:
        self._now += by


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a simulated clock needs an aware datetime")
    return at
