"""The SQL pre-filter for machine verification never drops a case the domain
would judge near: every point within the radius is inside the box."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from audit.adapters.repository import bounding_box
from audit.domain.machine import EARTH_RADIUS_M


def destination(lat: float, lon: float, bearing: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` from (lat, lon) along `bearing` (great circle)."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


@given(
    lat=st.floats(-70, 70),
    lon=st.floats(-179, 179),
    bearing=st.floats(0, 360),
    radius=st.floats(1, 5000),
    share=st.floats(0, 1),
)
def test_every_point_within_the_radius_is_inside_the_box(
    lat: float, lon: float, bearing: float, radius: float, share: float
) -> None:
    dlat, dlon = bounding_box(lat, radius)
    plat, plon = destination(lat, lon, bearing, radius * share)
    assert abs(plat - lat) <= dlat and abs(plon - lon) <= dlon


def test_the_box_is_tight_enough_to_leave_the_next_street_out() -> None:
    dlat, dlon = bounding_box(31.23, 30)
    assert dlat * 111_320 < 40 and dlon * 111_320 * math.cos(math.radians(31.23)) < 40
