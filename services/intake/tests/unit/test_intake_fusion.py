"""Fusion geometry, matching and certainty, without I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from intake.domain.fusion import (
    FusionEntry,
    Sighting,
    add_score,
    best_match,
    cell_of,
    distance_m,
    fused_certainty,
    new_entry,
    search_range,
    widen,
)
from intake.domain.policy import FusionRule

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
RULE = FusionRule(radius_m=30, window=timedelta(minutes=10), match_component=False)
COMPONENT_RULE = FusionRule(radius_m=30, window=timedelta(minutes=10), match_component=True)
LAT, LON = 31.25, 121.5


def north(metres: float) -> float:
    return LAT + metres / 111_195.0


def east(metres: float) -> float:
    return LON + metres / (111_195.0 * math.cos(math.radians(LAT)))


def entry(case_id: str = "case-1", **changes: object) -> FusionEntry:
    fields: dict[str, object] = {
        "case_id": case_id,
        "category_code": "E0105",
        "first_observed_at": T0,
        "last_observed_at": T0,
        "latitude": LAT,
        "longitude": LON,
    }
    fields.update(changes)
    return FusionEntry(**fields)  # type: ignore[arg-type]


def sighting(minutes: float = 0, lat: float = LAT, lon: float = LON, **changes: object) -> Sighting:
    fields: dict[str, object] = {
        "category_code": "E0105",
        "observed_at": T0 + timedelta(minutes=minutes),
        "latitude": lat,
        "longitude": lon,
    }
    fields.update(changes)
    return Sighting(**fields)  # type: ignore[arg-type]


def test_distance_is_metres_on_the_ground() -> None:
    assert abs(distance_m(LAT, LON, north(100), LON) - 100) < 0.5
    assert abs(distance_m(LAT, LON, LAT, east(100)) - 100) < 0.5


@given(
    st.floats(-60, 60),
    st.floats(-179, 179),
    st.floats(1, 2000),
    st.floats(0, 2 * math.pi),
    st.floats(0, 1),
)
def test_the_search_range_holds_every_point_within_the_radius(
    lat: float, lon: float, radius: float, bearing: float, fraction: float
) -> None:
    d = radius * fraction
    dlat = d * math.cos(bearing) / 111_320.0
    dlon = d * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat)))
    other = cell_of(lat + dlat, lon + dlon)
    box = search_range(lat, lon, radius)
    assert box.row_min <= other.row <= box.row_max
    assert box.col_min <= other.col <= box.col_max


def test_a_sighting_near_and_in_time_matches() -> None:
    assert best_match(sighting(5, north(20)), RULE, [entry()]) == entry()


def test_outside_the_radius_or_the_window_or_another_category_does_not_match() -> None:
    assert best_match(sighting(5, north(31)), RULE, [entry()]) is None
    assert best_match(sighting(10.5), RULE, [entry()]) is None
    assert best_match(sighting(-10.5), RULE, [entry()]) is None
    assert best_match(sighting(1, category_code="E0101"), RULE, [entry()]) is None


def test_the_window_slides_with_the_cases_detections() -> None:
    seen = widen(entry(), sighting(9), RULE)
    assert best_match(sighting(18), RULE, [seen]) == seen
    # ...but the anchor does not move: a chain of sightings cannot creep down the street.
    walked = widen(entry(), sighting(1, north(25)), RULE)
    assert best_match(sighting(2, north(50)), RULE, [walked]) is None


def test_the_nearest_then_the_oldest_case_wins() -> None:
    far = entry("case-far", latitude=north(20))
    near = entry("case-near", latitude=north(5), first_observed_at=T0 + timedelta(minutes=1))
    assert best_match(sighting(2), RULE, [far, near]) == near
    twin = entry("case-twin", first_observed_at=T0 - timedelta(minutes=1))
    assert best_match(sighting(2), RULE, [entry(), twin]) == twin


def test_a_component_matches_on_its_id_wherever_it_is_reported() -> None:
    cover = entry(component_key="cover-77", category_code="C0101")
    far_report = sighting(3, north(500), category_code="C0101", component_key="cover-77")
    assert best_match(far_report, COMPONENT_RULE, [cover]) == cover
    assert best_match(far_report, RULE, [cover]) is None  # component matching off
    other = sighting(3, north(500), category_code="C0101", component_key="cover-78")
    assert best_match(other, COMPONENT_RULE, [cover]) is None


def test_new_entries_need_a_point_or_a_component() -> None:
    assert new_entry("c", sighting(latitude=None, longitude=None), RULE) is None
    unplaced = sighting(latitude=None, longitude=None, component_key="cover-1")
    made = new_entry("c", unplaced, COMPONENT_RULE)
    assert made is not None and made.component_key == "cover-1" and made.cell is None
    learnt = widen(entry(), sighting(1, component_key="cover-2"), COMPONENT_RULE)
    assert learnt.component_key == "cover-2"


def test_certainty_is_a_noisy_or_over_the_best_score_of_each_source() -> None:
    scores: dict[str, float] = {}
    assert add_score(scores, "cam-1", 0.6)
    assert not add_score(scores, "cam-1", 0.5)  # the same witness, weaker
    assert not add_score(scores, "cam-1", None)
    assert fused_certainty(scores) == 0.6
    add_score(scores, "cam-2", 0.6)
    add_score(scores, "uav-1", 0.5)
    assert fused_certainty(scores) == round(1 - 0.4 * 0.4 * 0.5, 6)
    for _ in range(100):
        add_score(scores, "cam-1", 0.6)
    assert fused_certainty(scores) == 0.92
