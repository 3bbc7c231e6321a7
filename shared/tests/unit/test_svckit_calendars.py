"""svckit.calendars: the shared working-time calendars, their files and the department lookup.

The arithmetic's properties on the shipped calendars are tested where the
deadlines are made (services/dispatch/tests/unit/test_dispatch_working_time.py);
here: the files' validation, finding a department's calendar, and the signed
working time left that work orders and the console show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svckit.calendars import (
    CalendarError,
    WorkingCalendar,
    load_department_calendars,
    parse_calendars,
    parse_holiday_year,
    read_department_types,
)
from svckit.reference import DepartmentType

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIPPED = load_department_calendars()
# 9:00–17:30 on weekdays, 2026's holidays and 调休 (as shipped).
OFFICE = WorkingCalendar(
    "office",
    SHANGHAI,
    frozenset(range(5)),
    ((9 * 60, 17 * 60 + 30),),
    holidays=SHIPPED.default.holidays,
    workdays=SHIPPED.default.workdays,
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_holiday_files_are_checked() -> None:
    with pytest.raises(CalendarError) as raised:
        parse_holiday_year(
            {
                "year": 2026,
                "holidays": [
                    {"name_zh": "春节", "from": "2026-02-15", "to": "2026-02-10"},
                    {"name_zh": "元旦", "from": "2025-12-31"},
                ],
                "workdays": [{"date": "2026-02-16"}, {"date": "2026-02-14"}, {"date": "soon"}],
                "colour": "red",
            },
            source="h",
        )
    problems = raised.value.problems
    assert "top level: unknown field 'colour'" in problems
    assert "holidays[0] (春节): to 2026-02-10 is before from 2026-02-15" in problems
    assert "2025-12-31: not in year 2026" in problems
    assert any(p.startswith("workdays[0]: 2026-02-16 is a weekday") for p in problems)
    assert any(p.startswith("workdays[2]: date must be a date") for p in problems)


def test_calendar_definitions_are_checked() -> None:
    with pytest.raises(CalendarError) as raised:
        parse_calendars(
            {
                "timezone": "Asia/Shanghai",
                "default": "office",
                "calendars": {
                    "city": {
                        "weekdays": ["mon", "funday"],
                        "hours": ["09:00-12:00", "11:00-13:00"],
                    },
                    "late": {"weekdays": ["mon"], "hours": ["25:00-26:00"]},
                },
                "departments": {"gas": "nights", "D09-gas": "city"},
            },
            [],
            SHIPPED.types,
            source="c",
        )
    problems = raised.value.problems
    assert "calendar city: weekdays must be a list of mon, tue, wed, thu, fri, sat, sun" in problems
    assert "calendar city: working hours overlap" in problems
    assert "calendar late: working hours '25:00-26:00' are not a span within one day" in problems
    assert "top level: default 'office' is not a calendar defined here" in problems
    assert "departments.gas: unknown calendar 'nights'" in problems
    assert "departments.D09-gas: neither a department type nor a department id" in problems


def test_each_department_finds_its_calendar_by_id_alone() -> None:
    assert SHIPPED.types["D03-gas"] is DepartmentType.GAS
    assert SHIPPED.for_department("D03-gas").name == "round_the_clock"
    assert SHIPPED.for_department("D01-water") is SHIPPED.default
    assert SHIPPED.for_department("no-such-department") is SHIPPED.default
    assert SHIPPED.default.name == "city"


def test_a_departments_file_with_unknown_types_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text("departments:\n  - {id: X-1, type: bakery}\n  - {type: gas}\n")
    with pytest.raises(CalendarError) as raised:
        read_department_types(path)
    assert raised.value.problems == (
        "department X-1: unknown type 'bakery'",
        "departments[1]: id must be a non-empty string",
    )
    with pytest.raises(CalendarError, match="cannot read"):
        load_department_calendars(tmp_path)


def test_working_time_left_skips_the_night_and_the_weekend() -> None:
    friday, monday_ten = local(2026, 3, 6, 17, 0), local(2026, 3, 9, 10, 0)
    assert OFFICE.remaining(friday, monday_ten) == timedelta(hours=1, minutes=30)
    assert monday_ten - friday == timedelta(hours=65)


def test_working_time_left_skips_public_holidays() -> None:
    # 清明 2026: Saturday 4 to Monday 6 April are off.
    thursday = local(2026, 4, 2, 17, 0)
    assert OFFICE.remaining(thursday, local(2026, 4, 7, 10, 0)) == timedelta(hours=10)


def test_once_past_the_deadline_the_working_time_since_counts_negative() -> None:
    deadline = local(2026, 3, 6, 16, 0)  # Friday
    assert OFFICE.remaining(local(2026, 3, 6, 17, 0), deadline) == -timedelta(hours=1)
    assert OFFICE.remaining(local(2026, 3, 8, 12, 0), deadline) == -timedelta(hours=1, minutes=30)
    assert OFFICE.remaining(local(2026, 3, 9, 10, 0), deadline) == -timedelta(hours=2, minutes=30)


instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 31), timezones=st.just(SHANGHAI)
)


@given(instants, instants)
def test_working_time_left_is_between_signed(now: datetime, deadline: datetime) -> None:
    left = OFFICE.remaining(now, deadline)
    assert left == -OFFICE.remaining(deadline, now)
    assert abs(left) == OFFICE.between(min(now, deadline), max(now, deadline))
    assert (left > timedelta(0)) <= (deadline > now)
