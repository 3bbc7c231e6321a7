"""Filing rules on the repository's own catalogue and sample city."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.domain.commands import FileByHand, FileFromDetection
from intake.domain.filing import Origin, Reference, file_by_hand, open_from_detection
from intake.domain.model import Case, CaseState, FilingSource, Place
from svckit.errors import InvalidArgumentError, PermissionDeniedError

TRACE_ID = "a" * 32
ORIGIN = Origin(
    "case-x", datetime(2024, 5, 1, tzinfo=UTC), TRACE_ID, f"00-{TRACE_ID}-{'b' * 16}-01"
)


def from_detection(cmd: FileFromDetection, ref: Reference, score: float | None = None) -> Case:
    category = ref.catalogue.get(cmd.category_code)
    return open_from_detection(cmd, category, score, CaseState.FILED, ref, ORIGIN)


def detection(place: Place | None, code: str = "C0101") -> FileFromDetection:
    return FileFromDetection("det-1", "cam-7", code, place, 1, ORIGIN.now)


def by_hand(point: tuple[float, float] | None, **changes: object) -> FileByHand:
    fields: dict[str, object] = {
        "request_id": "req-1",
        "category_code": "C0101",
        "title": "",
        "latitude": point[0] if point else None,
        "longitude": point[1] if point else None,
        "urgency": 2,
    }
    fields.update(changes)
    return FileByHand(**fields)  # type: ignore[arg-type]


def test_a_detection_is_filed_with_its_place_urgency_and_a_catalogue_title(
    ref: Reference, inside: tuple[float, float]
) -> None:
    where = ref.city_map.locate(*inside)
    assert where is not None
    place = Place(inside[0], inside[1], where.district_code, where.street_code, where.grid_code)
    case = from_detection(detection(place), ref, score=0.9)
    district = ref.city_map.area(where.district_code).name_zh
    assert case.title == f"上水井盖 · {district}"
    assert (case.state, case.source, case.place, case.urgency) == (
        CaseState.FILED,
        FilingSource.DETECTION,
        place,
        1,
    )
    assert case.detection_ids == ["det-1"] and case.filed_by == "cam-7"
    assert (case.detection_count, case.certainty, case.source_scores) == (1, 0.9, {"cam-7": 0.9})
    assert (case.trace_id, case.origin_traceparent) == (ORIGIN.trace_id, ORIGIN.traceparent)


def test_a_detection_point_without_district_is_resolved(
    ref: Reference, inside: tuple[float, float]
) -> None:
    case = from_detection(detection(Place(*inside)), ref)
    assert case.place.district_code and case.place.grid_code


def test_filing_by_hand_locates_the_point_and_keeps_a_given_title(
    ref: Reference, inside: tuple[float, float]
) -> None:
    case = file_by_hand(by_hand(inside, title="  井盖丢了 "), "operator", "u-1", ref, ORIGIN)
    assert case.title == "井盖丢了"
    assert case.place.grid_code and case.source is FilingSource.MANUAL
    assert case.filed_by == "u-1" and case.detection_ids == []


@pytest.mark.parametrize(
    ("changes", "point", "message"),
    [
        ({"request_id": ""}, True, "request_id"),
        ({"category_code": "Z9999"}, True, "unknown category"),
        ({}, False, "point is required"),
        ({"latitude": 0.0, "longitude": 0.0}, True, "outside the city"),
        ({"latitude": float("nan")}, True, "outside the city"),
        ({"title": "长" * 201}, True, "title"),
    ],
)
def test_filing_by_hand_refuses_what_could_never_be_handled(
    ref: Reference,
    inside: tuple[float, float],
    changes: dict[str, object],
    point: bool,
    message: str,
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        file_by_hand(by_hand(inside if point else None, **changes), "operator", "u", ref, ORIGIN)


@pytest.mark.parametrize("role", ["department_user", "auditor"])
def test_only_filing_roles_may_file(ref: Reference, inside: tuple[float, float], role: str) -> None:
    with pytest.raises(PermissionDeniedError):
        file_by_hand(by_hand(inside), role, "u", ref, ORIGIN)
