"""City geography (districts → streets → grids) and point location.

Cases are routed and evaluated by area, and a detection arrives with only a
coordinate, so every service needs the same answer to "which grid is this
point in?". The map is validated on load (parents exist, codes unique,
children inside their parents, siblings not overlapping) because a gap or an
overlap would silently send a case to the wrong department or to nobody.

Coordinates are WGS84. GeoJSON stores them as (longitude, latitude); this
module's API always takes and returns **(latitude, longitude)**, the order
people and most devices use, and converts at the boundary.

Pure: reads the one file it is given, no network or database.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import shapely
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from svckit.reference.problems import ReferenceFileError

__all__ = [
    "Area",
    "AreaLevel",
    "Bounds",
    "CityMap",
    "CityMapError",
    "Location",
    "UnknownAreaError",
]

# Real boundaries come from surveys with float noise; a child may stick out of its
# parent or overlap a sibling by this much without being an error.
# 1e-6 degrees is about 0.1 m; 1e-10 square degrees is about 1 m².
_CONTAINMENT_TOLERANCE_DEG = 1e-6
_OVERLAP_TOLERANCE_SQ_DEG = 1e-10
_RANDOM_POINT_ATTEMPTS = 1000


class AreaLevel(StrEnum):
    """The three administrative levels of 网格化管理."""

    DISTRICT = "district"
    STREET = "street"
    GRID = "grid"

    @property
    def parent_level(self) -> AreaLevel | None:
        """The level a parent must have; ``None`` for districts (they are top level)."""
        return {
            AreaLevel.DISTRICT: None,
            AreaLevel.STREET: AreaLevel.DISTRICT,
            AreaLevel.GRID: AreaLevel.STREET,
        }[self]


class Area(BaseModel):
    """One district, street (街道) or grid (网格), without its geometry."""

    model_config = ConfigDict(frozen=True)

    code: str
    level: AreaLevel
    name_zh: str
    name_en: str
    parent_code: str | None


class Location(BaseModel):
    """Where a point is: the whole chain, so callers need no further lookups."""

    model_config = ConfigDict(frozen=True)

    district_code: str
    street_code: str
    grid_code: str


class Bounds(BaseModel):
    """The city's bounding box, for map views and for simulators' sanity checks."""

    model_config = ConfigDict(frozen=True)

    min_latitude: float
    min_longitude: float
    max_latitude: float
    max_longitude: float


class CityMapError(ReferenceFileError):
    """The geography file is unusable; ``problems`` lists each one, naming its feature."""

    kind = "city map"


class UnknownAreaError(LookupError):
    """No district/street/grid has this code (or it is not of the level asked for)."""

    def __init__(self, code: str, level: AreaLevel | None = None) -> None:
        self.code = code
        self.level = level
        what = f"{level.value} " if level else "area "
        super().__init__(f"unknown {what}code {code!r}")


class _FeatureProperties(BaseModel):
    # Real cities' files carry extra properties (population, officials...); ignore them.
    model_config = ConfigDict(extra="ignore")

    level: AreaLevel
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    name_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    name_en: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    parent_code: str | None = None


def _label(area: Area) -> str:
    return f"{area.level.value} {area.code} ({area.name_zh})"


class CityMap:
    """Validated areas plus a spatial index over grids for ``locate``.

    Immutable after construction and safe to share between tasks and threads
    (queries only read the STRtree).
    """

    def __init__(
        self,
        areas: Sequence[tuple[Area, Any]],
        *,
        name_zh: str = "",
        name_en: str = "",
        source: str = "<memory>",
    ) -> None:
        """Validate the hierarchy and geometry of ``(area, shapely polygon)`` pairs and index it.

        Raises ``CityMapError`` listing every problem found.
        """
        self.name_zh = name_zh
        self.name_en = name_en
        self.source = source
        problems: list[str] = []

        self._areas: dict[str, Area] = {}
        self._geometry: dict[str, Any] = {}
        for area, geometry in areas:
            if area.code in self._areas:
                problems.append(
                    f"{_label(area)}: duplicate code, already used by "
                    f"{_label(self._areas[area.code])}"
                )
                continue
            self._areas[area.code] = area
            self._geometry[area.code] = geometry

        self._children: dict[str, list[str]] = {code: [] for code in self._areas}
        for area in self._areas.values():
            problems.extend(self._check_parent(area))

        by_level = {level: self._of_level(level) for level in AreaLevel}
        if not by_level[AreaLevel.DISTRICT]:
            problems.append("the map has no districts")
        for level in (AreaLevel.DISTRICT, AreaLevel.STREET):
            child_level = AreaLevel.GRID if level is AreaLevel.STREET else AreaLevel.STREET
            for area in by_level[level]:
                if not self._children[area.code]:
                    problems.append(f"{_label(area)}: has no {child_level.value}s")
        for level in AreaLevel:
            problems.extend(self._check_overlaps(by_level[level]))
        if problems:
            raise CityMapError(source, problems)

        self._by_level: dict[AreaLevel, tuple[Area, ...]] = {
            level: tuple(areas) for level, areas in by_level.items()
        }
        self._grids = self._by_level[AreaLevel.GRID]
        grid_geometries = [self._geometry[g.code] for g in self._grids]
        shapely.prepare(grid_geometries)
        self._grid_tree = STRtree(grid_geometries)
        self._grid_locations: tuple[Location, ...] = tuple(
            self._chain(grid) for grid in self._grids
        )
        self._grid_areas: tuple[float, ...] = tuple(float(g.area) for g in grid_geometries)
        west, south, east, north = (
            float(v) for v in shapely.total_bounds([self._geometry[a] for a in self._areas])
        )
        self._bounds = Bounds(
            min_latitude=south, min_longitude=west, max_latitude=north, max_longitude=east
        )

    # --- validation helpers --------------------------------------------------------

    def _check_parent(self, area: Area) -> list[str]:
        """Parent exists, has the level right above, and (nearly) covers the child."""
        expected = area.level.parent_level
        if expected is None:
            if area.parent_code is not None:
                return [f"{_label(area)}: a district must have parent_code null"]
            return []
        if area.parent_code is None:
            return [f"{_label(area)}: parent_code is missing (expected a {expected.value})"]
        parent = self._areas.get(area.parent_code)
        if parent is None:
            return [f"{_label(area)}: parent {area.parent_code!r} does not exist"]
        if parent.level is not expected:
            return [
                f"{_label(area)}: parent {parent.code} is a {parent.level.value}, "
                f"expected a {expected.value}"
            ]
        self._children[parent.code].append(area.code)
        outer = self._geometry[parent.code].buffer(_CONTAINMENT_TOLERANCE_DEG)
        if not outer.covers(self._geometry[area.code]):
            return [f"{_label(area)}: lies (partly) outside its parent {_label(parent)}"]
        return []

    def _check_overlaps(self, areas: Sequence[Area]) -> list[str]:
        """Siblings at one level must not overlap, or a point would have two answers."""
        geometries = [self._geometry[a.code] for a in areas]
        if len(geometries) < 2:
            return []
        tree = STRtree(geometries)
        problems = []
        left, right = tree.query(geometries, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i >= j:
                continue
            overlap = float(geometries[i].intersection(geometries[j]).area)
            if overlap > _OVERLAP_TOLERANCE_SQ_DEG:
                problems.append(
                    f"{_label(areas[i])}: overlaps {_label(areas[j])} "
                    f"(by {overlap:.3g} square degrees)"
                )
        return problems

    def _of_level(self, level: AreaLevel) -> list[Area]:
        return [a for a in self._areas.values() if a.level is level]

    def _chain(self, grid: Area) -> Location:
        street = self._areas[grid.parent_code or ""]
        return Location(
            district_code=street.parent_code or "", street_code=street.code, grid_code=grid.code
        )

    # --- loading -------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> CityMap:
        """Read and validate a GeoJSON FeatureCollection; raises ``CityMapError``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CityMapError(str(path), [f"not valid JSON: {exc}"]) from exc
        return cls.from_geojson(data, source=str(path))

    @classmethod
    def from_geojson(cls, data: Any, *, source: str = "<memory>") -> CityMap:
        """Build from a parsed FeatureCollection whose features carry level/code/names/parent."""
        if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
            raise CityMapError(source, ["top level: expected a GeoJSON FeatureCollection"])
        features = data.get("features")
        if not isinstance(features, list):
            raise CityMapError(source, ["top level: 'features' must be a list"])

        problems: list[str] = []
        areas: list[tuple[Area, Any]] = []
        for index, feature in enumerate(features):
            label = f"feature #{index}"
            if not isinstance(feature, Mapping):
                problems.append(f"{label}: not an object")
                continue
            raw_props = feature.get("properties")
            if isinstance(raw_props, Mapping) and isinstance(raw_props.get("code"), str):
                label = f"{label} ({raw_props.get('level')} {raw_props['code']})"
            try:
                props = _FeatureProperties.model_validate(raw_props)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    loc = ".".join(str(p) for p in err["loc"]) or "properties"
                    problems.append(f"{label}: {loc}: {err['msg']}")
                continue
            area = Area(
                code=props.code,
                level=props.level,
                name_zh=props.name_zh,
                name_en=props.name_en,
                parent_code=props.parent_code,
            )
            geometry, problem = _parse_geometry(feature.get("geometry"))
            if problem:
                problems.append(f"{_label(area)}: {problem}")
                continue
            areas.append((area, geometry))
        if problems:
            raise CityMapError(source, problems)

        name_zh, name_en = data.get("name_zh"), data.get("name_en")
        return cls(
            areas,
            name_zh=name_zh if isinstance(name_zh, str) else "",
            name_en=name_en if isinstance(name_en, str) else "",
            source=source,
        )

    # --- queries -------------------------------------------------------------------

    def locate(self, latitude: float, longitude: float) -> Location | None:
        """The grid (with its street and district) containing the point, or ``None``.

        ``None`` means outside every grid, i.e. outside the city. A point exactly on
        a shared border belongs to the grid with the smallest code, so the answer is
        deterministic. Raises ``ValueError`` for NaN or infinite input: that is a
        caller bug, not a place.
        """
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            raise ValueError(f"coordinates must be finite, got ({latitude}, {longitude})")
        hits = self._grid_tree.query(Point(longitude, latitude), predicate="intersects")
        if len(hits) == 0:
            return None
        best = min((int(i) for i in hits), key=lambda i: self._grids[i].code)
        return self._grid_locations[best]

    @property
    def districts(self) -> tuple[Area, ...]:
        """All districts, in file order."""
        return self._by_level[AreaLevel.DISTRICT]

    @property
    def streets(self) -> tuple[Area, ...]:
        """All streets (街道), in file order."""
        return self._by_level[AreaLevel.STREET]

    @property
    def grids(self) -> tuple[Area, ...]:
        """All grids (网格), in file order."""
        return self._grids

    def area(self, code: str) -> Area:
        """The district, street or grid with this code; ``UnknownAreaError`` if none."""
        try:
            return self._areas[code]
        except KeyError:
            raise UnknownAreaError(code) from None

    def children(self, code: str) -> tuple[Area, ...]:
        """The streets of a district or the grids of a street (empty for a grid)."""
        self.area(code)
        return tuple(self._areas[c] for c in self._children[code])

    @property
    def bounds(self) -> Bounds:
        """Bounding box of every area in the map."""
        return self._bounds

    def random_point(
        self, rng: random.Random, district_code: str | None = None
    ) -> tuple[float, float]:
        """A uniformly random ``(latitude, longitude)`` inside the city or one district.

        For simulators: all randomness comes from ``rng``, so a seeded ``Random``
        replays the same points. Grids are picked weighted by area, then a point
        is rejection-sampled inside the grid, so irregular polygons work too.
        """
        indices = list(range(len(self._grids)))
        if district_code is not None:
            district = self._areas.get(district_code)
            if district is None or district.level is not AreaLevel.DISTRICT:
                raise UnknownAreaError(district_code, AreaLevel.DISTRICT)
            indices = [i for i in indices if self._grid_locations[i].district_code == district_code]
        weights = [self._grid_areas[i] for i in indices]
        chosen = rng.choices(indices, weights=weights, k=1)[0]
        geometry = self._geometry[self._grids[chosen].code]
        west, south, east, north = (float(v) for v in geometry.bounds)
        for _ in range(_RANDOM_POINT_ATTEMPTS):
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            if geometry.covers(Point(lon, lat)):
                return lat, lon
        # Pathologically thin polygon: fall back to a point guaranteed to be inside.
        inside = geometry.representative_point()
        return float(inside.y), float(inside.x)

    def __repr__(self) -> str:
        return (
            f"CityMap(name_en={self.name_en!r}, districts={len(self.districts)}, "
            f"streets={len(self.streets)}, grids={len(self._grids)}, source={self.source!r})"
        )


def _parse_geometry(raw: Any) -> tuple[Any, str | None]:
    """A valid, non-empty WGS84 (Multi)Polygon, or the reason it is not one."""
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, Mapping) else type(raw).__name__
        return None, f"geometry must be a Polygon or MultiPolygon (got {kind})"
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        return None, f"geometry is malformed: {exc}"
    if geometry.is_empty:
        return None, "geometry is empty"
    if not geometry.is_valid:
        return None, f"geometry is invalid: {shapely.is_valid_reason(geometry)}"
    west, south, east, north = (float(v) for v in geometry.bounds)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None, "coordinates are outside WGS84 (is the order [longitude, latitude]?)"
    return geometry, None
