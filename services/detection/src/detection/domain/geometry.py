"""Reported areas: CAP's polygon and circle notation, checks, and the one point
a detection is located by.

CAP 1.2 writes a polygon as whitespace-separated "lat,lon" pairs (at least four,
the first equal to the last) and a circle as "lat,lon radius" with the radius in
kilometres. A detection needs one point to find its grid: a polygon's centroid
(or, for a concave polygon whose centroid falls outside it, a point inside it),
else a circle's centre. The area itself is kept beside the point.
"""

from __future__ import annotations

import math

from shapely.geometry import Polygon

from detection.domain.model import Circle, Geocode, ReportedArea
from detection.domain.problems import FieldProblem, clean_text

MAX_POLYGONS = 10
MAX_POLYGON_POINTS = 1000
MAX_CIRCLES = 10
MAX_GEOCODES = 20
MAX_RADIUS_M = 100_000.0
MAX_AREA_TEXT = 256


def parse_polygon(text: str) -> tuple[tuple[float, float], ...]:
    """CAP `<polygon>` as (lat, lon) pairs; ValueError names what is wrong."""
    pairs = text.split()
    if len(pairs) > MAX_POLYGON_POINTS:
        raise ValueError(f"at most {MAX_POLYGON_POINTS} points")
    points = tuple(_pair(p) for p in pairs)
    if len(points) < 4:
        raise ValueError("needs at least 4 'lat,lon' pairs")
    if points[0] != points[-1]:
        raise ValueError("first and last points must be the same")
    return points


def parse_circle(text: str) -> Circle:
    """CAP `<circle>` ("lat,lon radius-km") as a Circle in metres."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("must be 'lat,lon radius' (radius in km)")
    lat, lon = _pair(parts[0])
    radius_km = _number(parts[1])
    return Circle(lat, lon, radius_km * 1000.0)


def area_problems(area: ReportedArea, at: str = "area") -> list[FieldProblem]:
    """Everything wrong with an area, however it was built."""
    problems: list[FieldProblem] = []
    clean_text(f"{at}.description", area.description, MAX_AREA_TEXT, problems)
    for name, items, limit in (
        ("polygons", area.polygons, MAX_POLYGONS),
        ("circles", area.circles, MAX_CIRCLES),
        ("geocodes", area.geocodes, MAX_GEOCODES),
    ):
        if len(items) > limit:
            problems.append(FieldProblem(f"{at}.{name}", f"at most {limit}"))
    for i, ring in enumerate(area.polygons):
        problems += _ring_problems(ring, f"{at}.polygons.{i}")
    for i, circle in enumerate(area.circles):
        if not _in_range(circle.latitude, circle.longitude):
            problems.append(FieldProblem(f"{at}.circles.{i}", "centre is not a WGS84 point"))
        if not (math.isfinite(circle.radius_m) and 0 <= circle.radius_m <= MAX_RADIUS_M):
            problems.append(
                FieldProblem(f"{at}.circles.{i}", f"radius must be 0..{MAX_RADIUS_M:g} m")
            )
    for i, code in enumerate(area.geocodes):
        _geocode_problems(code, f"{at}.geocodes.{i}", problems)
    return problems


def representative_point(area: ReportedArea) -> tuple[float, float] | None:
    """(lat, lon) to locate the area by: the first polygon's centroid (a point
    inside it if the centroid is not), else the first circle's centre; None if
    the area has neither (geocodes only)."""
    if area.polygons:
        shape = Polygon([(lon, lat) for lat, lon in area.polygons[0]])
        centre = shape.centroid
        if not shape.contains(centre):
            centre = shape.representative_point()
        return (centre.y, centre.x)
    if area.circles:
        return (area.circles[0].latitude, area.circles[0].longitude)
    return None


def _ring_problems(ring: tuple[tuple[float, float], ...], at: str) -> list[FieldProblem]:
    if len(ring) < 4 or len(ring) > MAX_POLYGON_POINTS or ring[0] != ring[-1]:
        return [FieldProblem(at, f"must be a closed ring of 4..{MAX_POLYGON_POINTS} points")]
    if not all(_in_range(lat, lon) for lat, lon in ring):
        return [FieldProblem(at, "holds a point that is not a WGS84 coordinate")]
    shape = Polygon([(lon, lat) for lat, lon in ring])
    if not shape.is_valid or shape.area == 0:
        return [FieldProblem(at, "is not a simple polygon with an area")]
    return []


def _geocode_problems(code: Geocode, at: str, problems: list[FieldProblem]) -> None:
    for name, value in (("value_name", code.value_name), ("value", code.value)):
        if not clean_text(f"{at}.{name}", value, MAX_AREA_TEXT, problems):
            problems.append(FieldProblem(f"{at}.{name}", "is required"))


def _pair(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{text[:40]!r} is not a 'lat,lon' pair")
    lat, lon = _number(parts[0]), _number(parts[1])
    if not _in_range(lat, lon):
        raise ValueError(f"{text[:40]!r} is not a WGS84 coordinate")
    return (lat, lon)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]!r} is not a finite number")
    return value


def _in_range(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


__all__ = ["area_problems", "parse_circle", "parse_polygon", "representative_point"]
