"""Filing (立案): turning a detection or a person's report into a new case.

The reference data (catalogue, city map) is passed in, so these rules stay pure
and a test can run them on the repository's own config files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from intake.domain.commands import FileByHand, FileFromDetection
from intake.domain.fusion import add_score, fused_certainty
from intake.domain.model import Case, CaseState, FilingSource, Place
from intake.domain.policy import IntakePolicy
from svckit.errors import InvalidArgumentError, PermissionDeniedError
from svckit.reference import Catalogue, Category, CityMap, UnknownAreaError

FILING_ROLES = frozenset({"operator", "supervisor", "inspector", "admin", "system"})
"""Who may file by hand: the centre's staff, field inspectors, the 12345 hotline
(operators) and automation; departments and auditors report through other paths."""

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class Reference:
    """The reference data filing needs: the shared catalogue and map, intake's policy."""

    catalogue: Catalogue
    city_map: CityMap
    policy: IntakePolicy


@dataclass(frozen=True)
class Origin:
    """Identity and discovery trace of a new case, decided by the caller's context."""

    case_id: str
    now: datetime
    trace_id: str = ""
    traceparent: str = ""


def category_of(catalogue: Catalogue, code: str) -> Category:
    category = catalogue.find(code)
    if category is None:
        raise InvalidArgumentError(f"unknown category code {code!r}")
    return category


def title_for(category: Category, place: Place | None, city_map: CityMap) -> str:
    """The default title: the 小类 name and the district, e.g. "上水井盖 · 东湖区"."""
    if place is None or not place.district_code:
        return category.name_zh
    try:
        district = city_map.area(place.district_code).name_zh
    except UnknownAreaError:
        district = place.district_code
    return f"{category.name_zh} · {district}"


def locate(city_map: CityMap, latitude: float, longitude: float) -> Place | None:
    """The place of a point inside the city, or None outside it."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    where = city_map.locate(latitude, longitude)
    if where is None:
        return None
    return Place(latitude, longitude, where.district_code, where.street_code, where.grid_code)


def open_from_detection(
    cmd: FileFromDetection,
    category: Category,
    score: float | None,
    state: CaseState,
    ref: Reference,
    origin: Origin,
) -> Case:
    """A new case for a detection, FILED or in TRIAGE; its place and urgency are the detection's.

    A place the source left unresolved (a point without district) is resolved
    here so the title and later routing have a district.
    """
    place = cmd.place
    if place is not None and not place.district_code:
        place = locate(ref.city_map, place.latitude, place.longitude) or place
    scores: dict[str, float] = {}
    add_score(scores, cmd.source_key, score)
    return Case(
        case_id=origin.case_id,
        category_code=category.code,
        title=title_for(category, place, ref.city_map),
        place=place or Place(0.0, 0.0),
        urgency=cmd.urgency,
        state=state,
        filed_at=origin.now,
        updated_at=origin.now,
        source=FilingSource.DETECTION,
        filed_by=cmd.source_id,
        trace_id=origin.trace_id,
        origin_traceparent=origin.traceparent,
        detection_ids=[cmd.detection_id],
        detection_count=1,
        evidence=list(cmd.evidence),
        source_scores=scores,
        certainty=fused_certainty(scores),
    )


def file_by_hand(cmd: FileByHand, role: str, user_id: str, ref: Reference, origin: Origin) -> Case:
    """A new FILED case from a person; refuses what could never be handled."""
    if role not in FILING_ROLES:
        raise PermissionDeniedError(f"role {role!r} may not file cases")
    if not cmd.request_id:
        raise InvalidArgumentError("request_id is required")
    category = category_of(ref.catalogue, cmd.category_code)
    if cmd.latitude is None or cmd.longitude is None:
        raise InvalidArgumentError("point is required")
    place = locate(ref.city_map, cmd.latitude, cmd.longitude)
    if place is None:
        raise InvalidArgumentError(f"point ({cmd.latitude}, {cmd.longitude}) is outside the city")
    title = cmd.title.strip() or title_for(category, place, ref.city_map)
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidArgumentError(f"title is longer than {MAX_TITLE_LENGTH} characters")
    return Case(
        case_id=origin.case_id,
        category_code=category.code,
        title=title,
        place=place,
        urgency=cmd.urgency,
        state=CaseState.FILED,
        filed_at=origin.now,
        updated_at=origin.now,
        source=FilingSource.MANUAL,
        filed_by=user_id,
        trace_id=origin.trace_id,
        origin_traceparent=origin.traceparent,
    )
