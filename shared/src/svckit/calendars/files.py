"""Reading the calendars from ``config/``: which department's clock runs when.

The files stay in ``config/dispatch/`` (``calendars/`` and ``departments.yaml``):
dispatch owns them and validates the departments fully; every other service
reads the same copy through here, so a deadline and the time shown left until
it are counted on one calendar.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from svckit.calendars.book import CalendarBook, CalendarError, parse_calendars, parse_holiday_year
from svckit.calendars.working_time import WorkingCalendar
from svckit.reference import DepartmentType, default_config_dir

CALENDARS_DIR = Path("dispatch") / "calendars"
DEPARTMENTS_FILE = Path("dispatch") / "departments.yaml"
_TYPE_VALUES = frozenset(t.value for t in DepartmentType)


@dataclass(frozen=True)
class DepartmentCalendars:
    """The calendar book with each department's type, so a department id alone finds its clock."""

    book: CalendarBook
    types: Mapping[str, DepartmentType] = field(default_factory=dict)

    @property
    def default(self) -> WorkingCalendar:
        return self.book.default

    def for_department(self, department_id: str) -> WorkingCalendar:
        """The department's own calendar, else its type's, else the city's (also for an unknown id)."""
        return self.book.for_department(department_id, self.types.get(department_id))


def load_calendar_book(folder: Path, department_ids: Container[str]) -> CalendarBook:
    """``calendars.yaml`` plus every ``holidays-<year>.yaml`` beside it; raises ``CalendarError``."""
    years = [
        parse_holiday_year(read_yaml(path), source=str(path))
        for path in sorted(folder.glob("holidays-*.yaml"))
    ]
    path = folder / "calendars.yaml"
    return parse_calendars(read_yaml(path), years, department_ids, source=str(path))


def load_department_calendars(config_dir: Path | None = None) -> DepartmentCalendars:
    """Every department's calendar from ``config_dir`` (default: ``default_config_dir()``)."""
    folder = config_dir or default_config_dir()
    types = read_department_types(folder / DEPARTMENTS_FILE)
    return DepartmentCalendars(load_calendar_book(folder / CALENDARS_DIR, types), types)


def read_department_types(path: Path) -> dict[str, DepartmentType]:
    """Department id → type from the departments file; raises ``CalendarError``.

    Only what a calendar lookup needs: dispatch checks the rest of the file
    (districts, one department per district and type) when it starts.
    """
    data = read_yaml(path)
    entries = data.get("departments") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise CalendarError(str(path), ["top level: expected a mapping with a `departments` list"])
    problems: list[str] = []
    types: dict[str, DepartmentType] = {}
    for index, entry in enumerate(entries):
        raw_id = entry.get("id") if isinstance(entry, Mapping) else None
        raw_type = entry.get("type") if isinstance(entry, Mapping) else None
        if not isinstance(raw_id, str) or not raw_id.strip():
            problems.append(f"departments[{index}]: id must be a non-empty string")
            continue
        if raw_type not in _TYPE_VALUES:
            problems.append(f"department {raw_id}: unknown type {raw_type!r}")
            continue
        types[raw_id.strip()] = DepartmentType(raw_type)
    if problems:
        raise CalendarError(str(path), problems)
    return types


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(str(path), [f"cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise CalendarError(str(path), [f"not valid YAML: {exc}"]) from exc
