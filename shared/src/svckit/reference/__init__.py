"""Reference data every CityOps service shares: the case catalogue and the city map.

The data lives in the repository's ``config/`` directory (one copy, reviewed like
code); this package only loads and validates it. Loaders are pure, so domain code
and unit tests can call them without a database or network.
"""

from __future__ import annotations

import os
from pathlib import Path

from svckit.reference.catalogue import (
    Catalogue,
    CatalogueError,
    Category,
    CategoryKind,
    DepartmentType,
    EvidenceKind,
    MajorCategory,
    UnknownCategoryError,
)
from svckit.reference.geography import (
    Area,
    AreaLevel,
    Bounds,
    CityMap,
    CityMapError,
    Location,
    UnknownAreaError,
)

__all__ = [
    "CATALOGUE_FILE",
    "CONFIG_DIR_ENV",
    "SAMPLE_CITY_FILE",
    "Area",
    "AreaLevel",
    "Bounds",
    "Catalogue",
    "CatalogueError",
    "Category",
    "CategoryKind",
    "CityMap",
    "CityMapError",
    "DepartmentType",
    "EvidenceKind",
    "Location",
    "MajorCategory",
    "UnknownAreaError",
    "UnknownCategoryError",
    "default_catalogue_path",
    "default_city_map_path",
    "default_config_dir",
]

CONFIG_DIR_ENV = "CITYOPS_CONFIG_DIR"
CATALOGUE_FILE = Path("catalogue") / "catalogue.yaml"
SAMPLE_CITY_FILE = Path("geography") / "sample-city.geojson"


def default_config_dir() -> Path:
    """The ``config/`` directory: ``$CITYOPS_CONFIG_DIR`` if set, else the repository's.

    Deployments point the variable at their own city's data; in a checkout the
    repository's copy is found by walking up from this file to the first folder
    containing ``config/catalogue``, so it works from any working directory.
    Raises ``FileNotFoundError`` when neither applies (e.g. an installed wheel
    with no variable set), rather than guessing a path that does not exist.
    """
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    for folder in Path(__file__).resolve().parents:
        if (folder / "config" / "catalogue").is_dir():
            return folder / "config"
    raise FileNotFoundError(
        f"no config/catalogue above {Path(__file__).resolve()}; set {CONFIG_DIR_ENV}"
    )


def default_catalogue_path(config_dir: Path | None = None) -> Path:
    """Where the catalogue is in ``config_dir`` (default: ``default_config_dir()``)."""
    return (config_dir or default_config_dir()) / CATALOGUE_FILE


def default_city_map_path(config_dir: Path | None = None) -> Path:
    """Where the sample city's GeoJSON is in ``config_dir`` (default: ``default_config_dir()``)."""
    return (config_dir or default_config_dir()) / SAMPLE_CITY_FILE
