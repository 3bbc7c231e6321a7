"""Working-time calendars (工作日 / 工作时): hours, weekdays, public holidays and 调休.

Shared because a deadline (set by dispatch) and the working time shown left
until it (work orders, the console) must be counted on the same calendar.
``working_time`` is the arithmetic, ``book`` validates the calendar
documents and answers "whose clock is this?", ``files`` reads them from
``config/dispatch/calendars/``.
"""

from __future__ import annotations

from svckit.calendars.book import (
    WEEKDAY_NAMES,
    CalendarBook,
    CalendarError,
    HolidayYear,
    parse_calendars,
    parse_holiday_year,
)
from svckit.calendars.files import (
    CALENDARS_DIR,
    DEPARTMENTS_FILE,
    DepartmentCalendars,
    load_calendar_book,
    load_department_calendars,
    read_department_types,
)
from svckit.calendars.working_time import (
    MINUTES_PER_DAY,
    ZERO,
    WorkingCalendar,
    as_hours,
    hours,
)

__all__ = [
    "CALENDARS_DIR",
    "DEPARTMENTS_FILE",
    "MINUTES_PER_DAY",
    "WEEKDAY_NAMES",
    "ZERO",
    "CalendarBook",
    "CalendarError",
    "DepartmentCalendars",
    "HolidayYear",
    "WorkingCalendar",
    "as_hours",
    "hours",
    "load_calendar_book",
    "load_department_calendars",
    "parse_calendars",
    "parse_holiday_year",
    "read_department_types",
]
