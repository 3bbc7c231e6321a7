"""Working-time arithmetic on the shipped calendars: properties (hypothesis) and known dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.adapters.reference_files import load_calendars, load_departments
from dispatch.domain.model import Assignment, Role
from dispatch.domain.oversight import Extension, after_suspension, decide_extension
from svckit.calendars import WorkingCalendar
from svckit.reference import CityMap, DepartmentType, default_city_map_path, default_config_dir

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG = default_config_dir() / "dispatch"
BOOK = load_calendars(
    CONFIG / "calendars",
    load_departments(CONFIG / "departments.yaml", CityMap.load(default_city_map_path())),
)
CITY = BOOK.default
ROUND_THE_CLOCK = BOOK.for_department("D01-gas", DepartmentType.GAS)
HOLIDAYS = sorted(d for d in CITY.holidays if d not in CITY.workdays)
ADJUSTED = sorted(CITY.workdays)

instants = st.datetimes(
    min_value=datetime(2024, 12, 20), max_value=datetime(2027, 11, 30), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=160 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from([CITY, ROUND_THE_CLOCK])


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def is_city_working_instant(at: datetime) -> bool:
    """Independent of the code under test: the 2025–2027 files' rule, spelled out."""
    moment = at.astimezone(SHANGHAI)
    day = moment.date()
    working_day = day in CITY.workdays or (day.weekday() < 5 and day not in CITY.holidays)
    clock = moment.time()
    return working_day and (time(9) <= clock < time(12) or time(13, 30) <= clock < time(18))


@given(calendars, instants, durations)
def test_a_deadline_is_never_earlier_than_its_start(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    assert calendar.add(start, duration) >= start


@given(calendars, instants, durations)
def test_the_working_time_between_start_and_deadline_is_the_duration(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    assert calendar.between(start, calendar.add(start, duration)) == duration


@given(calendars, instants, durations, durations)
def test_adding_a_then_b_is_adding_a_plus_b(
    calendar: WorkingCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert calendar.add(calendar.add(start, a), b) == calendar.add(start, a + b)


@settings(max_examples=300)
@given(instants, durations.filter(lambda d: d > timedelta(0)))
def test_city_deadlines_fall_in_working_time_skipping_weekends_and_holidays(
    start: datetime, duration: timedelta
) -> None:
    deadline = CITY.add(start, duration)
    # The last working second before the deadline is working time on a working day.
    assert is_city_working_instant(deadline - timedelta(microseconds=1))


@given(st.sampled_from(HOLIDAYS), durations)
def test_no_working_time_is_counted_on_a_public_holiday(holiday: date, duration: timedelta) -> None:
    start = datetime.combine(holiday, time(), SHANGHAI)
    assert CITY.between(start, start + timedelta(days=1)) == timedelta(0)
    if duration:
        assert CITY.add(start, duration).astimezone(SHANGHAI).date() > holiday


@given(st.sampled_from(ADJUSTED))
def test_adjusted_working_days_count_a_full_working_day(day: date) -> None:
    assert day.weekday() >= 5  # 调休: a Saturday or Sunday worked
    start = datetime.combine(day, time(), SHANGHAI)
    assert CITY.between(start, start + timedelta(days=1)) == timedelta(hours=7, minutes=30)


@given(calendars, instants, durations)
def test_taking_working_time_off_a_deadline_inverts_adding_it(
    calendar: WorkingCalendar, end: datetime, duration: timedelta
) -> None:
    start = calendar.subtract(end, duration)
    assert start <= end
    assert calendar.between(start, end) == duration
    # The latest such start: adding the duration back lands on the end's working moment.
    assert calendar.add(start, duration) <= end
    assert calendar.between(calendar.add(start, duration), end) == timedelta(0)


@given(calendars, instants, durations, durations)
def test_a_shorter_allowance_never_moves_a_deadline_later(
    calendar: WorkingCalendar, deadline: datetime, first: timedelta, second: timedelta
) -> None:
    small, large = sorted((first, second))
    assert calendar.subtract(deadline, large) <= calendar.subtract(deadline, small) <= deadline


@given(calendars, instants, durations, durations)
def test_a_deadline_after_suspension_keeps_the_working_time_it_had_left(
    calendar: WorkingCalendar, backlogged: datetime, left: timedelta, idle: timedelta
) -> None:
    deadline = calendar.add(backlogged, left)
    resumed = calendar.add(backlogged, idle)  # 挂账 for `idle` working time
    moved = after_suspension(calendar, deadline, backlogged, resumed)
    assert moved >= deadline
    assert calendar.between(resumed, moved) == calendar.between(backlogged, deadline) == left


@given(calendars, instants, durations, durations)
def test_an_overdue_deadline_stays_overdue_by_as_much_after_suspension(
    calendar: WorkingCalendar, deadline: datetime, late: timedelta, idle: timedelta
) -> None:
    backlogged = calendar.add(deadline, late)
    resumed = calendar.add(backlogged, idle)
    moved = after_suspension(calendar, deadline, backlogged, resumed)
    assert calendar.between(moved, resumed) == late


@given(calendars, instants, durations, durations)
def test_extensions_are_monotonic(
    calendar: WorkingCalendar, deadline: datetime, first: timedelta, second: timedelta
) -> None:
    small, large = sorted((first, second))
    assert deadline <= calendar.add(deadline, small) <= calendar.add(deadline, large)


@given(calendars, instants, st.integers(min_value=1, max_value=80), st.integers(0, 80))
def test_an_approved_extension_never_moves_a_deadline_earlier(
    calendar: WorkingCalendar, start: datetime, requested: int, granted: int
) -> None:
    assignment = Assignment(
        "D-1",
        "C-1",
        "D01-water",
        Role.LEAD,
        1,
        "r",
        "1",
        start,
        calendar.add(start, timedelta(hours=8)),
        "D01-water",
    )
    before = assignment.deadline
    extension = Extension(
        "X-1", "C-1", "D-1", "WO-1", "D01-water", timedelta(hours=requested), "", start
    )
    decide_extension(
        extension,
        assignment,
        approve=True,
        granted_hours=granted,
        calendar=calendar,
        now=start,
        by="sup",
        note="",
    )
    assert extension.new_deadline == assignment.deadline >= before
    granted_time = timedelta(hours=granted or requested)
    assert calendar.between(before, assignment.deadline) == granted_time


@pytest.mark.parametrize(
    ("start", "hours", "deadline"),
    [
        # An ordinary week: lunch and the night are skipped.
        (local(2026, 3, 2, 11, 0), 2, local(2026, 3, 2, 14, 30)),
        (local(2026, 3, 6, 17, 0), 2, local(2026, 3, 9, 10, 0)),  # Friday → Monday
        # 春节 2026: Saturday 14 Feb is worked (调休), 15–23 Feb are off.
        (local(2026, 2, 13, 17, 0), 2, local(2026, 2, 14, 10, 0)),
        (local(2026, 2, 14, 17, 30), 1, local(2026, 2, 24, 9, 30)),
        # 国庆 2025: 1–8 Oct off, Saturday 11 Oct worked.
        (local(2025, 9, 30, 17, 0), 2, local(2025, 10, 9, 10, 0)),
        (local(2025, 10, 10, 17, 0), 2, local(2025, 10, 11, 10, 0)),
        # Started at night or on a holiday, the clock starts with the next working period.
        (local(2026, 1, 1, 8, 0), 1, local(2026, 1, 4, 10, 0)),  # 元旦; Sunday 4 Jan worked
    ],
)
def test_known_deadlines_on_the_prc_calendar(
    start: datetime, hours: int, deadline: datetime
) -> None:
    assert CITY.add(start, timedelta(hours=hours)) == deadline


def test_round_the_clock_ignores_nights_weekends_and_holidays() -> None:
    new_year = local(2026, 1, 1, 23, 30)
    assert ROUND_THE_CLOCK.add(new_year, timedelta(hours=1)) == local(2026, 1, 2, 0, 30)
    assert ROUND_THE_CLOCK.name == "round_the_clock" and CITY.name == "city"


def test_2027_is_marked_provisional() -> None:
    assert CITY.is_provisional(local(2027, 3, 1))
    assert not CITY.is_provisional(local(2026, 3, 1))


def test_naive_or_negative_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CITY.add(datetime(2026, 3, 2, 10), timedelta(hours=1))
    with pytest.raises(ValueError, match="negative"):
        CITY.add(local(2026, 3, 2, 10), timedelta(hours=-1))
    with pytest.raises(ValueError, match="negative"):
        CITY.subtract(local(2026, 3, 2, 10), timedelta(hours=-1))


def test_known_deadlines_brought_forward() -> None:
    # 8 working hours before Tuesday 10:30: Tue 1.5 + Mon 13:30–18:00 + Mon 10:00–12:00.
    assert CITY.subtract(local(2026, 3, 3, 10, 30), timedelta(hours=8)) == local(2026, 3, 2, 10)
    # Back over the 2026 Spring Festival (Feb 15–23 off; Sat Feb 14 and Sat Feb 28 worked).
    assert CITY.subtract(local(2026, 2, 24, 9, 0), timedelta(hours=1)) == local(2026, 2, 14, 17)
