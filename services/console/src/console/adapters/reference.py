"""Reference data the console reads from config/: the catalogue, the city map,
and the departments (责任单位) list dispatch routes to, so department users can
be bound to the same ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from console.domain.accounts import Department, new_department
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path
from svckit.reference import default_config_dir as _default_config_dir

DEPARTMENTS_FILE = Path("dispatch") / "departments.yaml"

# The operations centre's own units: not departments cases are routed to, but
# the units its staff act for (an inspector's unit is never a disposer's: 监管分离).
CENTRE_UNITS = (
    Department("centre", "城市运行管理中心", "City Operations Centre"),
    Department("centre-inspection", "监督指挥中心核查组", "Supervision Centre Inspection Team"),
)


def config_dir(configured: Path | None) -> Path:
    return configured or _default_config_dir()


def load_catalogue(configured: Path | None) -> Catalogue:
    return Catalogue.load(default_catalogue_path(config_dir(configured)))


def load_city_map(configured: Path | None) -> CityMap:
    return CityMap.load(default_city_map_path(config_dir(configured)))


def city_geojson_path(configured: Path | None) -> Path:
    return default_city_map_path(config_dir(configured))


def load_departments(configured: Path | None) -> list[Department]:
    """The departments of config/dispatch/departments.yaml (validated by dispatch;
    here only read for their ids and names)."""
    path = config_dir(configured) / DEPARTMENTS_FILE
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        new_department(
            str(d["id"]),
            str(d["name_zh"]),
            str(d.get("name_en", "")),
            str(d.get("district_code", "")),
        )
        for d in data.get("departments", [])
    ]
