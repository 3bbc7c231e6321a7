"""Calendars from their data files: which department's clock runs when.

``calendars.yaml`` defines named calendars (week, working hours, whether
public holidays apply), the default (the city's) and overrides per
department type or department id. ``holidays-<year>.yaml`` files list each
year's public holidays and 调休 working days as the State Council published
them (a year not yet published is marked ``provisional``). Everything is
validated at once and every problem names its entry, like the 权责清单.
Pure: the documents come in parsed (``svckit.calendars.files`` reads them).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from svckit.calendars.working_time import MINUTES_PER_DAY, WorkingCalendar
from svckit.reference.catalogue import DepartmentType
from svckit.reference.problems import ReferenceFileError, parse_date

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_TYPE_VALUES = frozenset(t.value for t in DepartmentType)


class CalendarError(ReferenceFileError):
    """A calendar or holiday file is unusable; ``problems`` lists each one, naming its entry."""


@dataclass(frozen=True)
class HolidayYear:
    """One year's public holidays and adjusted working days (调休)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    provisional: bool = False
    source: str = ""


@dataclass(frozen=True)
class CalendarBook:
    """The default calendar and the overrides; answers "whose clock is this?"."""

    default: WorkingCalendar
    by_type: Mapping[DepartmentType, WorkingCalendar] = field(default_factory=dict)
    by_department: Mapping[str, WorkingCalendar] = field(default_factory=dict)

    def for_department(
        self, department_id: str, department_type: DepartmentType | None = None
    ) -> WorkingCalendar:
        """A department's own calendar, else its type's, else the city's."""
        if department_id in self.by_department:
            return self.by_department[department_id]
        if department_type is not None and department_type in self.by_type:
            return self.by_type[department_type]
        return self.default


def parse_holiday_year(data: Any, *, source: str) -> HolidayYear:
    """A ``holidays-<year>.yaml`` document; raises ``CalendarError`` listing every problem."""
    if not isinstance(data, Mapping):
        raise CalendarError(source, ["top level: expected a mapping"])
    problems = [
        f"top level: unknown field {k!r}"
        for k in data
        if k not in ("year", "provisional", "source", "holidays", "workdays")
    ]
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise CalendarError(source, [*problems, "top level: year must be an integer"])
    holidays: set[date] = set()
    for index, entry in enumerate(_list(data.get("holidays"), "holidays", problems)):
        label = _entry_label(entry, f"holidays[{index}]")
        first = _day(entry, "from", label, problems)
        last = _day(entry, "to", label, problems) if _has(entry, "to") else first
        if first is None or last is None:
            continue
        if last < first:
            problems.append(f"{label}: to {last} is before from {first}")
        day = first
        while day <= last:
            holidays.add(day)
            day += timedelta(days=1)
    workdays: set[date] = set()
    for index, entry in enumerate(_list(data.get("workdays"), "workdays", problems)):
        label = _entry_label(entry, f"workdays[{index}]")
        worked = _day(entry, "date", label, problems)
        if worked is None:
            continue
        if worked.weekday() < 5:
            problems.append(
                f"{label}: {worked} is a weekday; a 调休 working day is a Saturday or Sunday"
            )
        if worked in holidays:
            problems.append(f"{label}: {worked} is also listed as a holiday")
        workdays.add(worked)
    problems += [f"{d}: not in year {year}" for d in sorted(holidays | workdays) if d.year != year]
    if problems:
        raise CalendarError(source, problems)
    return HolidayYear(
        year=year,
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        provisional=bool(data.get("provisional", False)),
        source=str(data.get("source", "")),
    )


def parse_calendars(
    data: Any,
    years: Iterable[HolidayYear],
    department_ids: Container[str],
    *,
    source: str,
) -> CalendarBook:
    """The calendars document plus the holiday years; raises ``CalendarError``.

    ``department_ids`` are the city's departments: a ``departments`` key is
    one of them or a department type, anything else is a mistake.
    """
    if not isinstance(data, Mapping):
        raise CalendarError(source, ["top level: expected a mapping"])
    problems = [
        f"top level: unknown field {k!r}"
        for k in data
        if k not in ("timezone", "default", "calendars", "departments")
    ]
    zone = _zone(data.get("timezone"), problems)
    years = list(years)
    seen_years = [y.year for y in years]
    problems += [
        f"holidays for {y} given twice" for y in set(seen_years) if seen_years.count(y) > 1
    ]
    holidays = frozenset(d for y in years for d in y.holidays)
    workdays = frozenset(d for y in years for d in y.workdays)
    provisional = frozenset(y.year for y in years if y.provisional)
    raw_calendars = data.get("calendars")
    if not isinstance(raw_calendars, Mapping) or not raw_calendars:
        raise CalendarError(source, [*problems, "top level: calendars must be a mapping"])
    calendars: dict[str, WorkingCalendar] = {}
    for name, raw in raw_calendars.items():
        calendar = _calendar(str(name), raw, problems)
        if calendar is not None and zone is not None:
            calendars[str(name)] = WorkingCalendar(
                name=calendar.name,
                timezone=zone,
                weekdays=calendar.weekdays,
                hours=calendar.hours,
                holidays=holidays,
                workdays=workdays,
                observes_holidays=calendar.observes_holidays,
                provisional_years=provisional,
            )
    default_name = data.get("default")
    if default_name not in raw_calendars:
        problems.append(f"top level: default {default_name!r} is not a calendar defined here")
    by_type: dict[DepartmentType, WorkingCalendar] = {}
    by_department: dict[str, WorkingCalendar] = {}
    raw_assignments = data.get("departments") or {}
    if not isinstance(raw_assignments, Mapping):
        problems.append("top level: departments must map a department type or id to a calendar")
        raw_assignments = {}
    for key, name in raw_assignments.items():
        if name not in raw_calendars:
            problems.append(f"departments.{key}: unknown calendar {name!r}")
        elif str(key) in department_ids:
            by_department[str(key)] = calendars.get(str(name), _PLACEHOLDER)
        elif str(key) in _TYPE_VALUES:
            by_type[DepartmentType(str(key))] = calendars.get(str(name), _PLACEHOLDER)
        else:
            problems.append(f"departments.{key}: neither a department type nor a department id")
    if problems:
        raise CalendarError(source, problems)
    return CalendarBook(
        default=calendars[str(default_name)], by_type=by_type, by_department=by_department
    )


_PLACEHOLDER = WorkingCalendar("invalid", ZoneInfo("UTC"), frozenset(), ())


def _calendar(name: str, raw: Any, problems: list[str]) -> WorkingCalendar | None:
    label = f"calendar {name}"
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: not a mapping")
        return None
    before = len(problems)
    problems += [
        f"{label}: unknown field {k!r}"
        for k in raw
        if k not in ("weekdays", "hours", "holidays", "name_zh", "name_en")
    ]
    weekdays = raw.get("weekdays")
    if not isinstance(weekdays, list) or not weekdays or not set(weekdays) <= set(WEEKDAY_NAMES):
        problems.append(f"{label}: weekdays must be a list of {', '.join(WEEKDAY_NAMES)}")
        weekdays = []
    spans = [
        _span(s, label, problems) for s in _list(raw.get("hours"), f"{label}: hours", problems)
    ]
    ordered = sorted(s for s in spans if s is not None)
    if not ordered:
        problems.append(f"{label}: hours must list at least one span like 09:00-12:00")
    for (_, end), (start, _) in pairwise(ordered):
        if start < end:
            problems.append(f"{label}: working hours overlap")
    if not isinstance(raw.get("holidays", True), bool):
        problems.append(f"{label}: holidays must be true or false")
    if len(problems) > before:
        return None
    return WorkingCalendar(
        name=name,
        timezone=ZoneInfo("UTC"),
        weekdays=frozenset(WEEKDAY_NAMES.index(d) for d in weekdays),
        hours=tuple(ordered),
        observes_holidays=bool(raw.get("holidays", True)),
    )


def _span(value: Any, label: str, problems: list[str]) -> tuple[int, int] | None:
    match = _SPAN.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(f"{label}: working hours {value!r} must look like 09:00-12:00")
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (m1 < 60 and m2 < 60 and 0 <= start < end <= MINUTES_PER_DAY):
        problems.append(f"{label}: working hours {value!r} are not a span within one day")
        return None
    return start, end


def _zone(value: Any, problems: list[str]) -> ZoneInfo | None:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"top level: unknown timezone {value!r}")
        return None


def _list(value: Any, what: str, problems: list[str]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{what}: must be a list")
        return []
    return value


def _has(entry: Any, key: str) -> bool:
    return isinstance(entry, Mapping) and entry.get(key) is not None


def _entry_label(entry: Any, where: str) -> str:
    name = entry.get("name_zh") if isinstance(entry, Mapping) else None
    return f"{where} ({name})" if isinstance(name, str) and name else where


def _day(entry: Any, key: str, label: str, problems: list[str]) -> date | None:
    value = entry.get(key) if isinstance(entry, Mapping) else None
    return parse_date(value, key, label, problems)
