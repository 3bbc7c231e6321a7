"""Working time (工作时 / 工作日): the arithmetic every deadline is made of.

Dispatch sets deadlines with it; work orders show the working time left
until them. Both must count the same hours, so the arithmetic lives here.

A stage of a case has so many *working* hours: the clock runs only inside a
calendar's working hours, on its working days. A working day is a weekday
of the calendar's week unless it is a public holiday, or a weekend day the
State Council has made a working day (调休). Instants are aware datetimes;
the calendar converts them to its own zone (Asia/Shanghai for the city) to
decide what is working time, and answers in UTC.

Two operations, exact to the microsecond (``timedelta`` arithmetic, no
floats), and consistent with each other:

- ``add(start, d)``: the earliest instant by which ``d`` of working time has
  passed since ``start``; ``add(start, 0) == start``.
- ``between(a, b)``: how much working time lies in ``[a, b)``.

So ``between(s, add(s, d)) == d`` and ``add(add(s, a), b) == add(s, a + b)``;
``subtract(end, d)`` goes the other way, for a deadline that must come earlier,
and ``remaining(now, deadline)`` is ``between`` signed, for a countdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

MINUTES_PER_DAY = 24 * 60
# add() gives up after this many days without finding enough working time (a
# calendar with no working days at all, say), rather than looping for ever.
_MAX_DAYS = 3660
ZERO = timedelta(0)
# Bounds the per-calendar day cache (about 27 years of days) in a long-running service.
_MAX_CACHED_DAYS = 10_000


@dataclass(frozen=True)
class WorkingCalendar:
    """When a department's clock runs.

    ``hours`` are (start, end) minutes after local midnight, sorted and
    disjoint, ``end`` up to 1440 (24:00). ``weekdays`` are ``date.weekday()``
    numbers (Monday 0). ``holidays`` are days off although weekdays;
    ``workdays`` are 调休 days worked although not weekdays. With
    ``observes_holidays`` false (a round-the-clock emergency service) both
    sets are ignored.
    """

    name: str
    timezone: tzinfo
    weekdays: frozenset[int]
    hours: tuple[tuple[int, int], ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    observes_holidays: bool = True
    # Years whose holiday schedule is a best guess (not yet published by the State Council).
    provisional_years: frozenset[int] = field(default=frozenset())
    # Each day's intervals once computed: a page of long-overdue orders walks
    # the same days again and again (zone conversions are the cost).
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def is_working_day(self, day: date) -> bool:
        if self.observes_holidays:
            if day in self.workdays:
                return True
            if day in self.holidays:
                return False
        return day.weekday() in self.weekdays

    def local_date(self, at: datetime) -> date:
        return _utc(at).astimezone(self.timezone).date()

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as UTC instants (empty on a day off)."""
        return list(self._intervals_of(day))

    def day_length(self) -> timedelta:
        """Working time in one working day."""
        return timedelta(minutes=sum(end - start for start, end in self.hours))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which ``duration`` of working time has passed since ``start``."""
        if duration < ZERO:
            raise ValueError(f"working time cannot be negative: {duration}")
        start = _utc(start)
        if duration == ZERO:
            return start
        remaining = duration
        for begin, end in self._intervals_from(start):
            begin = max(begin, start)
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"calendar {self.name} has no working time within {_MAX_DAYS} days")

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The latest instant from which ``duration`` of working time runs up to ``end``.

        The inverse of ``add`` for taking working time off a deadline (an
        urgency raised after dispatch): ``between(subtract(e, d), e) == d``.
        """
        if duration < ZERO:
            raise ValueError(f"working time cannot be negative: {duration}")
        end = _utc(end)
        if duration == ZERO:
            return end
        remaining = duration
        for begin, finish in self._intervals_before(end):
            finish = min(finish, end)
            available = finish - begin
            if remaining <= available:
                return finish - remaining
            remaining -= available
        raise ValueError(f"calendar {self.name} has no working time within {_MAX_DAYS} days")

    def between(self, first: datetime, second: datetime) -> timedelta:
        """Working time in ``[first, second)``; zero when ``second`` is not after ``first``."""
        first, second = _utc(first), _utc(second)
        total = ZERO
        if second <= first:
            return total
        for begin, end in self._intervals_from(first):
            if begin >= second:
                break
            total += min(end, second) - max(begin, first)
        return total

    def remaining(self, now: datetime, deadline: datetime) -> timedelta:
        """Working time left until ``deadline``; once past, minus the working time since.

        Zero from a deadline until the next working period begins: overdue by
        no working time yet, so a countdown never jumps at night or a weekend.
        """
        if _utc(deadline) >= _utc(now):
            return self.between(now, deadline)
        return -self.between(deadline, now)

    def is_provisional(self, at: datetime) -> bool:
        """Whether ``at`` falls in a year whose holidays are not yet officially published."""
        return self.local_date(at).year in self.provisional_years

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals ending after ``start``, in order, for up to ``_MAX_DAYS`` days."""
        day = self.local_date(start) - timedelta(days=1)  # an interval may cross midnight in UTC
        for offset in range(_MAX_DAYS):
            for begin, end in self._intervals_of(day + timedelta(days=offset)):
                if end > start:
                    yield begin, end

    def _intervals_before(self, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals starting before ``end``, latest first, for up to ``_MAX_DAYS`` days."""
        day = self.local_date(end) + timedelta(days=1)
        for offset in range(_MAX_DAYS):
            for begin, finish in reversed(self._intervals_of(day - timedelta(days=offset))):
                if begin < end:
                    yield begin, finish

    def _intervals_of(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        known = self._days.get(day)
        if known is None:
            if len(self._days) >= _MAX_CACHED_DAYS:
                self._days.clear()
            known = (
                tuple((self._instant(day, s), self._instant(day, e)) for s, e in self.hours)
                if self.is_working_day(day)
                else ()
            )
            self._days[day] = known
        return known

    def _instant(self, day: date, minutes: int) -> datetime:
        extra, minutes = divmod(minutes, MINUTES_PER_DAY)
        local = datetime.combine(
            day + timedelta(days=extra), time(minutes // 60, minutes % 60), self.timezone
        )
        return local.astimezone(UTC)


def hours(value: float) -> timedelta:
    """Working hours as a duration, to the second (0.25 h is exactly 15 minutes)."""
    return timedelta(seconds=round(value * 3600))


def as_hours(value: timedelta) -> float:
    return value.total_seconds() / 3600


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("working time needs aware datetimes; use svckit.clock.utcnow()")
    return at.astimezone(UTC)
