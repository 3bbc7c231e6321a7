"""CAP areas: polygon and circle notation, checks, and the point an area is located by."""

from __future__ import annotations

import pytest

from detection.domain import geometry
from detection.domain.model import Circle, Geocode, ReportedArea

SQUARE = "31.2385,121.4920 31.2385,121.4930 31.2395,121.4930 31.2395,121.4920 31.2385,121.4920"


def test_a_cap_polygon_is_read_as_lat_lon_pairs() -> None:
    ring = geometry.parse_polygon(f"  {SQUARE}\n ")
    assert ring[0] == (31.2385, 121.4920) and ring[-1] == ring[0] and len(ring) == 5


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31.2,121.4 31.3,121.4 31.2,121.4", "at least 4"),
        ("31.2,121.4 31.3,121.4 31.3,121.5 31.2,121.5", "same"),
        ("31.2;121.4 31.3,121.4 31.3,121.5 31.2;121.4", "pair"),
        ("91,121.4 31.3,121.4 31.3,121.5 91,121.4", "WGS84"),
        ("nan,121.4 31.3,121.4 31.3,121.5 nan,121.4", "finite"),
        ("x,121.4 31.3,121.4 31.3,121.5 x,121.4", "number"),
    ],
)
def test_a_bad_polygon_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        geometry.parse_polygon(text)


def test_a_cap_circle_has_its_radius_in_kilometres() -> None:
    assert geometry.parse_circle("31.2390,121.4925 0.15") == Circle(31.239, 121.4925, 150.0)
    for bad in ("31.2390,121.4925", "31.2390 121.4925 1", "31.2,121.4 many"):
        with pytest.raises(ValueError):
            geometry.parse_circle(bad)


def test_the_point_is_the_centroid_else_the_circle_centre_else_none() -> None:
    square = geometry.parse_polygon(SQUARE)
    lat, lon = geometry.representative_point(ReportedArea(polygons=(square,))) or (0.0, 0.0)
    assert lat == pytest.approx(31.239) and lon == pytest.approx(121.4925)
    circle = Circle(31.2, 121.5, 100.0)
    assert geometry.representative_point(ReportedArea(circles=(circle,))) == (31.2, 121.5)
    assert geometry.representative_point(ReportedArea(geocodes=(Geocode("GB2260", "1"),))) is None


def test_a_concave_polygon_is_located_inside_itself() -> None:
    # A "C" shape whose centroid falls in its mouth, outside the polygon.
    c_shape = (
        (0.0, 0.0), (0.0, 3.0), (1.0, 3.0), (1.0, 1.0), (2.0, 1.0),
        (2.0, 3.0), (3.0, 3.0), (3.0, 0.0), (0.0, 0.0),
    )  # fmt: skip
    from shapely.geometry import Point, Polygon

    lat, lon = geometry.representative_point(ReportedArea(polygons=(c_shape,))) or (9.0, 9.0)
    assert Polygon([(y, x) for x, y in c_shape]).contains(Point(lon, lat))


def test_area_problems_name_the_part_at_fault() -> None:
    bowtie = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    area = ReportedArea(
        description="ok",
        polygons=(bowtie,),
        circles=(Circle(31.2, 121.5, -1.0),),
        geocodes=(Geocode("", "x"),),
    )
    fields = {p.field for p in geometry.area_problems(area)}
    assert fields == {"area.polygons.0", "area.circles.0", "area.geocodes.0.value_name"}
    assert geometry.area_problems(ReportedArea(polygons=(geometry.parse_polygon(SQUARE),))) == []
