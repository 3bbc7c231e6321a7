"""Reading dispatch's reference data from ``config/``: YAML in, validated domain objects out.

The files are read once at start; a bad file stops the service before it
consumes anything, with every problem listed, rather than misrouting cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dispatch.domain.departments import DepartmentDirectory, parse_departments
from dispatch.domain.matrix import ResponsibilityMatrix, parse_matrix
from dispatch.domain.model import ResponsibilityError
from dispatch.domain.reference import ReferenceData
from svckit.reference import (
    Catalogue,
    CityMap,
    default_catalogue_path,
    default_city_map_path,
    default_config_dir,
)

DEPARTMENTS_FILE = Path("dispatch") / "departments.yaml"
RESPONSIBILITY_FILE = Path("dispatch") / "responsibility.yaml"


def load_reference(
    config_dir: Path | None = None,
    *,
    departments_file: Path | None = None,
    responsibility_file: Path | None = None,
) -> ReferenceData:
    """Catalogue, city map, departments and matrix from ``config_dir`` (default: the repository's).

    ``departments_file`` / ``responsibility_file`` replace the default files,
    e.g. a city's own matrix or a test's.
    """
    folder = config_dir or default_config_dir()
    catalogue = Catalogue.load(default_catalogue_path(folder))
    city_map = CityMap.load(default_city_map_path(folder))
    directory = load_departments(departments_file or folder / DEPARTMENTS_FILE, city_map)
    matrix = load_matrix(responsibility_file or folder / RESPONSIBILITY_FILE, catalogue, directory)
    return ReferenceData(city_map=city_map, matrix=matrix)


def load_departments(path: Path, city_map: CityMap) -> DepartmentDirectory:
    districts = [d.code for d in city_map.districts]
    return parse_departments(_read_yaml(path), districts, source=str(path))


def load_matrix(
    path: Path, catalogue: Catalogue, directory: DepartmentDirectory
) -> ResponsibilityMatrix:
    return parse_matrix(
        _read_yaml(path), catalogue=catalogue, directory=directory, source=str(path)
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ResponsibilityError(str(path), [f"not valid YAML: {exc}"]) from exc
