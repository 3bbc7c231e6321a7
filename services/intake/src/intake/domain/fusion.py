"""Fusion: one problem seen many times is one case.

Every open case has one entry in the fusion index: its 小类, the point of its
first detection (the anchor: later sightings do not move it, so a chain of
sightings cannot creep along a street), the component it is about if known,
and the span of observation times of its detections. The index is bucketed by
grid cell (CELL_DEGREES on each axis, about 55 m north-south) so a lookup reads
only the cells a search circle touches.

A new detection corroborates the best matching entry: same 小类, observed
within the rule's window of the entry's span, and either about the same
component (component 小类) or within the rule's radius of the anchor. The
best is a component match, else the nearest, else the oldest case.

Certainty is fused per source: each source (device) counts with its best score,
and independent sources combine as a noisy-OR, 1 − Π(1 − pᵢ). A hundred frames
from one camera are one witness; three cameras and a drone are four.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from intake.domain.policy import FusionRule

CELL_DEGREES = 0.0005
METRES_PER_DEGREE = 111_320.0
"""Length of one degree of latitude (and of longitude at the equator), in metres."""


@dataclass(frozen=True)
class Cell:
    row: int
    col: int


@dataclass(frozen=True)
class CellRange:
    """The cells a search circle's bounding box touches (inclusive bounds)."""

    row_min: int
    row_max: int
    col_min: int
    col_max: int


@dataclass(frozen=True)
class Sighting:
    """A detection as fusion sees it."""

    category_code: str
    observed_at: datetime
    latitude: float | None = None
    longitude: float | None = None
    # The component (部件) it is about, when the source knows it.
    component_key: str = ""

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class FusionEntry:
    """An open case in the fusion index."""

    case_id: str
    category_code: str
    first_observed_at: datetime
    last_observed_at: datetime
    latitude: float | None = None
    longitude: float | None = None
    component_key: str = ""

    @property
    def cell(self) -> Cell | None:
        if self.latitude is None or self.longitude is None:
            return None
        return cell_of(self.latitude, self.longitude)


def cell_of(latitude: float, longitude: float) -> Cell:
    return Cell(math.floor(latitude / CELL_DEGREES), math.floor(longitude / CELL_DEGREES))


def search_range(latitude: float, longitude: float, radius_m: float) -> CellRange:
    """Every cell that may hold a point within `radius_m` of (latitude, longitude)."""
    d_lat = radius_m / METRES_PER_DEGREE
    cos_lat = max(math.cos(math.radians(latitude)), 0.01)
    d_lon = radius_m / (METRES_PER_DEGREE * cos_lat)
    low, high = (
        cell_of(latitude - d_lat, longitude - d_lon),
        cell_of(latitude + d_lat, longitude + d_lon),
    )
    return CellRange(low.row, high.row, low.col, high.col)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def in_window(entry: FusionEntry, sighting: Sighting, rule: FusionRule) -> bool:
    """Observed within the window of the case's span (late reports count too)."""
    return (
        entry.first_observed_at - rule.window
        <= sighting.observed_at
        <= entry.last_observed_at + rule.window
    )


def _distance(entry: FusionEntry, sighting: Sighting) -> float | None:
    if entry.latitude is None or entry.longitude is None or not sighting.located:
        return None
    assert sighting.latitude is not None and sighting.longitude is not None
    return distance_m(entry.latitude, entry.longitude, sighting.latitude, sighting.longitude)


def best_match(
    sighting: Sighting, rule: FusionRule, candidates: Iterable[FusionEntry]
) -> FusionEntry | None:
    """The open case this sighting corroborates, or None if it is something new."""
    ranked: list[tuple[int, float, datetime, str, FusionEntry]] = []
    for entry in candidates:
        if entry.category_code != sighting.category_code or not in_window(entry, sighting, rule):
            continue
        same_component = bool(
            rule.match_component
            and sighting.component_key
            and entry.component_key == sighting.component_key
        )
        distance = _distance(entry, sighting)
        near = distance is not None and distance <= rule.radius_m
        if same_component or near:
            ranked.append(
                (
                    0 if same_component else 1,
                    distance if distance is not None else 0.0,
                    entry.first_observed_at,
                    entry.case_id,
                    entry,
                )
            )
    return min(ranked, key=lambda r: r[:4])[4] if ranked else None


def new_entry(case_id: str, sighting: Sighting, rule: FusionRule) -> FusionEntry | None:
    """The index entry of a case a sighting opens; None if it can never be matched."""
    component = sighting.component_key if rule.match_component else ""
    if not sighting.located and not component:
        return None
    return FusionEntry(
        case_id=case_id,
        category_code=sighting.category_code,
        first_observed_at=sighting.observed_at,
        last_observed_at=sighting.observed_at,
        latitude=sighting.latitude,
        longitude=sighting.longitude,
        component_key=component,
    )


def widen(entry: FusionEntry, sighting: Sighting, rule: FusionRule) -> FusionEntry:
    """The entry after a corroboration: its span grows, it learns its component."""
    component = entry.component_key
    if not component and rule.match_component:
        component = sighting.component_key
    return replace(
        entry,
        first_observed_at=min(entry.first_observed_at, sighting.observed_at),
        last_observed_at=max(entry.last_observed_at, sighting.observed_at),
        component_key=component,
    )


def fused_certainty(source_scores: Mapping[str, float]) -> float:
    """Noisy-OR of the best score of each independent source."""
    doubt = 1.0
    for score in source_scores.values():
        doubt *= 1.0 - min(max(score, 0.0), 1.0)
    return round(1.0 - doubt, 6)


def add_score(source_scores: dict[str, float], source_key: str, score: float | None) -> bool:
    """Record a source's score if it is its best; returns whether anything changed."""
    if score is None or source_scores.get(source_key, -1.0) >= score:
        return False
    source_scores[source_key] = score
    return True
