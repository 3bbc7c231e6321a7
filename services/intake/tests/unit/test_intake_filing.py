"""Filing rules on the repository's own catalogue and sample city."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.domain.commands import FileByHand, FileFromDetection
from intake.domain.filing import Origin, Reference, file_by_hand, file_from_detection
from intake.domain.model import CaseState, FilingSource, Place
from svckit.errors import InvalidArgumentError, PermissionDeniedError

TRACE_ID = "a" * 32
ORIGIN = Origin(
    "case-x", datetime(2024, 5, 1, tzinfo=UTC), TRACE_ID, f"00-{TRACE_ID}-{'b' * 16}-01"
)


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
    cmd = FileFromDetection("det-1", "cam-7", "C0101", place, urgency=1)
    case = file_from_detection(cmd, ref, ORIGIN)
    district = ref.city_map.area(where.district_code).name_zh
    assert case.title == f"上水井盖 · {district}"
    assert (case.state, case.source, case.place, case.urgency) == (
        CaseState.FILED,
        FilingSource.DETECTION,
        place,
        1,
    )
    assert case.detection_ids == ["det-1"] and case.filed_by == "cam-7"
    assert (case.trace_id, case.origin_traceparent) == (ORIGIN.trace_id, ORIGIN.traceparent)


def test_a_detection_point_without_district_is_resolved(
    ref: Reference, inside: tuple[float, float]
) -> None:
    cmd = FileFromDetection("det-1", "cam-7", "C0101", Place(*inside), urgency=1)
    case = file_from_detection(cmd, ref, ORIGIN)
    assert case.place.district_code and case.place.grid_code


def test_a_detection_of_an_unknown_category_is_refused(ref: Reference) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown category"):
        file_from_detection(FileFromDetection("d", "s", "Z9999", None, 1), ref, ORIGIN)


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
