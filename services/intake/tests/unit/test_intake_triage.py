"""Triage decisions and detection outcomes on plain cases (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.domain import triage
from intake.domain.commands import FileFromDetection
from intake.domain.detections import (
    Accepted,
    Discard,
    DiscardReason,
    assess,
    corroborate,
    reject_withdrawn,
    rescore,
    sighting_of,
)
from intake.domain.filing import Reference, title_for
from intake.domain.model import Case, CaseState, FilingSource, Place, RejectReason
from svckit.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
S = CaseState


def a_case(ref: Reference, state: CaseState = S.TRIAGE, case_id: str = "case-1") -> Case:
    place = Place(31.25, 121.5, "D01")
    return Case(
        case_id=case_id,
        category_code="E0105",
        title=title_for(ref.catalogue.get("E0105"), place, ref.city_map),
        place=place,
        urgency=5,
        state=state,
        filed_at=T0,
        updated_at=T0,
        source=FilingSource.DETECTION,
        detection_count=1,
        source_scores={"cam-1": 0.6},
        certainty=0.6,
    )


def detection(
    confidence: float = 0.9, code: str = "E0105", kind: str = "video_ai", **changes: object
) -> FileFromDetection:
    fields: dict[str, object] = {
        "detection_id": "det-9",
        "source_id": "cam-2",
        "category_code": code,
        "place": Place(31.25, 121.5),
        "urgency": 1,
        "observed_at": T0,
        "source_kind": kind,
        "confidence": confidence,
    }
    fields.update(changes)
    return FileFromDetection(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", ["department_user", "auditor", "inspector", "system"])
def test_only_the_centres_staff_triage(role: str) -> None:
    with pytest.raises(PermissionDeniedError):
        triage.check_request(role, "req-1")


def test_a_triage_request_needs_its_request_id_and_a_short_note() -> None:
    with pytest.raises(InvalidArgumentError, match="request_id"):
        triage.check_request("operator", "")
    with pytest.raises(InvalidArgumentError, match="note"):
        triage.check_request("supervisor", "r", "x" * 2001)
    triage.check_request("supervisor", "r", "ok")


def test_file_only_from_triage(ref: Reference) -> None:
    case = a_case(ref)
    triage.file_triaged(case, "looks real", NOW)
    assert (case.state, case.triage_note, case.updated_at) == (S.FILED, "looks real", NOW)
    with pytest.raises(FailedPreconditionError, match="filed"):
        triage.file_triaged(case, "", NOW)


@pytest.mark.parametrize("state", [S.TRIAGE, S.FILED, S.UNROUTABLE])
def test_reject_before_dispatch_with_a_reason(ref: Reference, state: CaseState) -> None:
    case = a_case(ref, state)
    assert triage.reject(case, RejectReason.FALSE_ALARM, "", NOW) is state
    assert (case.state, case.reject_reason) == (S.REJECTED, RejectReason.FALSE_ALARM)


@pytest.mark.parametrize("state", [S.DISPATCHED, S.ACCEPTED, S.CLOSED, S.REJECTED, S.MERGED])
def test_reject_refuses_a_case_already_with_a_department(ref: Reference, state: CaseState) -> None:
    with pytest.raises(FailedPreconditionError):
        triage.reject(a_case(ref, state), RejectReason.NOT_IN_SCOPE, "", NOW)


def test_reject_needs_a_reason_and_other_needs_a_note(ref: Reference) -> None:
    with pytest.raises(InvalidArgumentError, match="reason"):
        triage.reject(a_case(ref), None, "", NOW)
    with pytest.raises(InvalidArgumentError, match="note"):
        triage.reject(a_case(ref), RejectReason.OTHER, "  ", NOW)
    assert triage.reject(a_case(ref), RejectReason.OTHER, "街道自行处理", NOW) is S.TRIAGE


def test_merge_moves_count_and_witnesses_to_the_target(ref: Reference) -> None:
    duplicate, target = a_case(ref), a_case(ref, S.DISPATCHED, "case-2")
    target.source_scores = {"cam-1": 0.9, "uav-1": 0.5}
    target.detection_count = 4
    assert triage.merge(duplicate, target, "same pothole", NOW) is S.TRIAGE
    assert (duplicate.state, duplicate.duplicate_of) == (S.MERGED, "case-2")
    assert target.detection_count == 5 and target.source_scores == {"cam-1": 0.9, "uav-1": 0.5}
    assert target.certainty == 0.95


def test_merge_refusals(ref: Reference) -> None:
    with pytest.raises(InvalidArgumentError, match="itself"):
        triage.merge(a_case(ref), a_case(ref), "", NOW)
    with pytest.raises(FailedPreconditionError, match="open case"):
        triage.merge(a_case(ref), a_case(ref, S.CLOSED, "case-2"), "", NOW)
    with pytest.raises(FailedPreconditionError):
        triage.merge(a_case(ref, S.ACCEPTED), a_case(ref, S.FILED, "case-2"), "", NOW)


def test_reclassify_renames_a_default_title_and_routes_again(ref: Reference) -> None:
    case = a_case(ref, S.DISPATCHED)
    case.escalation_level = 2
    old, new = ref.catalogue.get("E0105"), ref.catalogue.get("E0101")
    triage.reclassify(case, old, new, ref.city_map, "其实是垃圾", NOW)
    assert case.category_code == "E0101" and case.title.startswith(new.name_zh)
    assert (case.state, case.state_at, case.escalation_level) == (S.FILED, NOW, 0)
    kept = a_case(ref)
    kept.title = "人民路口大坑"
    triage.reclassify(kept, old, new, ref.city_map, "", NOW)
    assert (kept.title, kept.state) == ("人民路口大坑", S.TRIAGE)


def test_reclassify_refusals(ref: Reference) -> None:
    old = ref.catalogue.get("E0105")
    with pytest.raises(InvalidArgumentError, match="already"):
        triage.reclassify(a_case(ref), old, old, ref.city_map, "", NOW)
    for state in (S.ACCEPTED, S.IN_PROGRESS, S.COMPLETED, S.CLOSED):
        with pytest.raises(FailedPreconditionError):
            triage.reclassify(
                a_case(ref, state), old, ref.catalogue.get("E0101"), ref.city_map, "", NOW
            )


def test_set_urgency(ref: Reference) -> None:
    case = a_case(ref, S.ACCEPTED)
    assert triage.set_urgency(case, 1, "gas smell", NOW) == 5
    assert triage.set_urgency(case, 1, "", NOW) is None
    with pytest.raises(InvalidArgumentError):
        triage.set_urgency(case, 0, "", NOW)
    with pytest.raises(FailedPreconditionError):
        triage.set_urgency(a_case(ref, S.CLOSED), 1, "", NOW)


# --- detection outcomes ------------------------------------------------------------


def test_assess_files_reviews_discards_and_records_unknown_categories(ref: Reference) -> None:
    filed = assess(detection(0.9), ref.catalogue, ref.policy, NOW)
    assert isinstance(filed, Accepted) and filed.opens is S.FILED
    review = assess(detection(0.6), ref.catalogue, ref.policy, NOW)
    assert isinstance(review, Accepted) and review.opens is S.TRIAGE
    low = assess(detection(0.2), ref.catalogue, ref.policy, NOW)
    assert isinstance(low, Discard) and low.reason is DiscardReason.BELOW_THRESHOLD
    assert (low.threshold, low.confidence, low.source_kind) == (0.5, 0.2, "video_ai")
    unknown = assess(detection(0.9, "Z9999"), ref.catalogue, ref.policy, NOW)
    assert isinstance(unknown, Discard) and unknown.reason is DiscardReason.UNKNOWN_CATEGORY
    unscored = assess(detection(0.0), ref.catalogue, ref.policy, NOW)
    assert isinstance(unscored, Accepted) and unscored.opens is S.TRIAGE  # video_ai: review
    sensor = assess(detection(0.0, kind="iot"), ref.catalogue, ref.policy, NOW)
    assert isinstance(sensor, Accepted) and sensor.opens is S.FILED


def test_corroboration_counts_and_can_file_a_triage_case(ref: Reference) -> None:
    case = a_case(ref)
    weak = assess(detection(0.6, source_id="cam-2"), ref.catalogue, ref.policy, NOW)
    assert isinstance(weak, Accepted)
    assert corroborate(case, detection(0.6, source_id="cam-2"), weak, NOW)  # 1-0.4² = 0.84
    assert (case.state, case.detection_count, case.certainty) == (S.FILED, 2, 0.84)
    same_camera = a_case(ref)
    assert not corroborate(same_camera, detection(0.6, source_id="cam-1"), weak, NOW)
    assert (same_camera.state, same_camera.detection_count) == (S.TRIAGE, 2)
    strong = assess(detection(0.95), ref.catalogue, ref.policy, NOW)
    assert isinstance(strong, Accepted)
    assert corroborate(a_case(ref), detection(0.95), strong, NOW)


def test_component_key_comes_from_the_component_or_a_sensor_on_it(ref: Reference) -> None:
    rule = ref.policy.fusion(ref.catalogue.get("C0101"))
    assert (
        sighting_of(detection(code="C0101", component_id="cover-1"), rule, ref.policy).component_key
        == "cover-1"
    )
    sensor = detection(code="C0101", kind="iot", device_id="tilt-9")
    assert sighting_of(sensor, rule, ref.policy).component_key == "device:tilt-9"
    camera = detection(code="C0101", device_id="cam-9")
    assert sighting_of(camera, rule, ref.policy).component_key == ""


def test_withdrawal_rescoring_and_rejection(ref: Reference) -> None:
    case = a_case(ref)
    rescore(case, [("cam-2", 0.7), ("cam-2", 0.5), ("uav", None)], NOW)
    assert (case.source_scores, case.certainty) == ({"cam-2": 0.7}, 0.7)
    assert reject_withdrawn(case, NOW)
    assert (case.state, case.reject_reason) == (S.REJECTED, RejectReason.WITHDRAWN)
    assert not reject_withdrawn(a_case(ref, S.FILED), NOW)
