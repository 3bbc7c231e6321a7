"""Where a rule applies: districts, optionally narrowed to streets, grids or a polygon.

A rule always names its districts (or every district). Inside them it may
apply only to some streets (街道), some grids (网格), or a drawn polygon —
an override for a park, a bridge, a market. Only district-wide rules count
towards coverage (every 小类 has a rule in every district); narrower ones
are overrides and must say by ``precedence`` that they win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from svckit.reference import CityMap

Point = tuple[float, float]  # (latitude, longitude)


@dataclass(frozen=True)
class Place:
    """Where a case is, as far as known: its district always, the rest when located."""

    district_code: str
    street_code: str = ""
    grid_code: str = ""
    point: Point | None = None


@dataclass(frozen=True)
class RuleArea:
    """``districts is None`` means every district; at most one narrowing is set."""

    districts: frozenset[str] | None
    streets: frozenset[str] = frozenset()
    grids: frozenset[str] = frozenset()
    polygon: tuple[Point, ...] = ()

    @property
    def district_wide(self) -> bool:
        return not (self.streets or self.grids or self.polygon)

    def has_district(self, district_code: str) -> bool:
        return self.districts is None or district_code in self.districts

    def contains(self, place: Place) -> bool:
        if not self.has_district(place.district_code):
            return False
        if self.streets:
            return place.street_code in self.streets
        if self.grids:
            return place.grid_code in self.grids
        if self.polygon:
            return place.point is not None and point_in_polygon(place.point, self.polygon)
        return True

    def describe(self) -> str:
        """How a problem names the narrowing ("" for a district-wide area)."""
        if self.streets:
            return f" (streets {', '.join(sorted(self.streets))})"
        if self.grids:
            return f" (grids {', '.join(sorted(self.grids))})"
        if self.polygon:
            return " (polygon)"
        return ""


def common_districts(first: RuleArea, second: RuleArea, all_districts: Sequence[str]) -> list[str]:
    """Districts both areas have, in the city's order."""
    return [d for d in all_districts if first.has_district(d) and second.has_district(d)]


def may_overlap(first: RuleArea, second: RuleArea, city_map: CityMap) -> bool:
    """Whether some place could be in both areas (given they share a district).

    Exact for districts, streets and grids; a polygon is compared by its
    bounding box with other polygons and assumed to meet any street or grid
    of its districts, so an override drawn on the map must state its
    precedence over them (a false alarm costs one explicit number).
    """
    if first.district_wide or second.district_wide:
        return True
    if first.polygon or second.polygon:
        if first.polygon and second.polygon:
            return _boxes_meet(first.polygon, second.polygon)
        return True
    return bool(_grids_of(first, city_map) & _grids_of(second, city_map))


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Ray casting on (latitude, longitude); a point on an edge may fall either way."""
    lat, lon = point
    inside = False
    for index, (lat1, lon1) in enumerate(polygon):
        lat2, lon2 = polygon[index - 1]
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def _grids_of(area: RuleArea, city_map: CityMap) -> set[str]:
    if area.grids:
        return set(area.grids)
    return {grid.code for street in area.streets for grid in city_map.children(street)}


def _boxes_meet(first: Sequence[Point], second: Sequence[Point]) -> bool:
    def box(points: Sequence[Point]) -> tuple[float, float, float, float]:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        return min(lats), min(lons), max(lats), max(lons)

    a, b = box(first), box(second)
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
