"""Reading dispatch's reference data from ``config/``: YAML in, validated domain objects out.

The files are read once at start; a bad file stops the service before it
consumes anything, with every problem listed, rather than misrouting cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dispatch.domain.departments import DepartmentDirectory, parse_departments
from dispatch.domain.matrix import parse_document
from dispatch.domain.model import ResponsibilityError
from dispatch.domain.reference import ReferenceData
from dispatch.domain.teams import DepartmentTeams, parse_teams
from svckit.calendars import CALENDARS_DIR, CalendarBook, CalendarError, load_calendar_book
from svckit.reference import (
    Catalogue,
    CityMap,
    default_catalogue_path,
    default_city_map_path,
    default_config_dir,
)

DEPARTMENTS_FILE = Path("dispatch") / "departments.yaml"
RESPONSIBILITY_FILE = Path("dispatch") / "responsibility.yaml"
TEAMS_FILE = Path("dispatch") / "teams.yaml"


def load_reference(
    config_dir: Path | None = None,
    *,
    departments_file: Path | None = None,
    responsibility_file: Path | None = None,
    calendars_dir: Path | None = None,
    teams_file: Path | None = None,
) -> ReferenceData:
    """Everything dispatch routes and times with, from ``config_dir`` (default: the repository's).

    Any file may be replaced, e.g. by a city's own matrix or a test's. A
    missing teams file means no department has teams.
    """
    folder = config_dir or default_config_dir()
    catalogue = Catalogue.load(default_catalogue_path(folder))
    city_map = CityMap.load(default_city_map_path(folder))
    directory = load_departments(departments_file or folder / DEPARTMENTS_FILE, city_map)
    path = responsibility_file or folder / RESPONSIBILITY_FILE
    document = parse_document(
        read_yaml(path),
        catalogue=catalogue,
        directory=directory,
        city_map=city_map,
        source=str(path),
    )
    teams_path = teams_file or folder / TEAMS_FILE
    return ReferenceData(
        document=document,
        calendars=load_calendars(calendars_dir or folder / CALENDARS_DIR, directory),
        teams=load_teams(teams_path, directory) if teams_path.exists() else {},
    )


def load_departments(path: Path, city_map: CityMap) -> DepartmentDirectory:
    districts = [d.code for d in city_map.districts]
    return parse_departments(read_yaml(path), districts, source=str(path))


def load_calendars(folder: Path, directory: DepartmentDirectory) -> CalendarBook:
    """``calendars.yaml`` plus every ``holidays-<year>.yaml`` beside it (read by svckit,
    which other services share), problems reported like every other reference file."""
    try:
        return load_calendar_book(folder, directory)
    except CalendarError as exc:
        raise ResponsibilityError(exc.source, exc.problems) from exc


def load_teams(path: Path, directory: DepartmentDirectory) -> dict[str, DepartmentTeams]:
    return parse_teams(read_yaml(path), directory, source=str(path))


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResponsibilityError(str(path), [f"cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ResponsibilityError(str(path), [f"not valid YAML: {exc}"]) from exc
