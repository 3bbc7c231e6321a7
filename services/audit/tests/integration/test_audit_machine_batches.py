"""Machine verification (机器核查) within one consumer transaction, on SQLite
and PostgreSQL: a fetched batch is recorded in one transaction, and what an
earlier event of the batch did (a completion, a detection, a filing, a
decision) must count for a later look in it exactly as if each event had
been a batch of its own. New detections are written at commit, not one by
one, so these pin down that the looks still see them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from audit.adapters.tables import DetectionRow, VerificationRow
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events

Recorder = Any  # conftest.Recorder

HERE = common_pb2.Place(point=common_pb2.GeoPoint(latitude=31.2304, longitude=121.4737))
# Kilometres away: only the same source can make a look from there count.
FAR = common_pb2.Place(point=common_pb2.GeoPoint(latitude=31.30, longitude=121.60))
WORKER = common_pb2.Actor(
    user_id="u-d01",
    department_id="D01-city_management",
    role=common_pb2.ACTOR_ROLE_DEPARTMENT_USER,
)

PREPARE = pytest.mark.parametrize("prepare", [True, False], ids=["preloaded", "one-by-one"])


def reported(
    detection_id: str, confidence: float, place: common_pb2.Place = HERE, *, before: bool = False
) -> detection_events.DetectionReported:
    """cam-17 sees 暴露垃圾 (machine-verified within 30 m, 12 h); observed at
    the event's time (the recorder's clock moves a minute per event), or
    `before` any of the story's events."""
    detection = detection_pb2.Detection(
        detection_id=detection_id,
        source_kind=detection_pb2.SOURCE_KIND_VIDEO_AI,
        source_id="cam-17",
        category_code="E0101",
        confidence=confidence,
        place=place,
    )
    if before:
        detection.observed_at.FromDatetime(datetime(2024, 1, 1, tzinfo=UTC))
    return detection_events.DetectionReported(detection=detection)


def filed(*detection_ids: str) -> intake_events.CaseFiled:
    return intake_events.CaseFiled(
        case=case_pb2.Case(
            case_id="C-1", category_code="E0101", place=HERE, detection_ids=list(detection_ids)
        )
    )


def completed() -> workorder_events.WorkOrderCompleted:
    return workorder_events.WorkOrderCompleted(case_id="C-1", actor=WORKER)


def withdrawn(detection_id: str) -> detection_events.DetectionWithdrawn:
    return detection_events.DetectionWithdrawn(
        detection_id=detection_id, kind=detection_events.WITHDRAWAL_KIND_CLEARED
    )


async def outcome(recorder: Recorder) -> tuple[str, bool, str, list[bool]]:
    """C-1's status, machine_verified, reason code; its verifications' verdicts."""
    async with recorder.uow() as uow:
        case = await uow.cases.get("C-1")
    assert case is not None
    async with recorder.engine.connect() as conn:
        rows = await conn.execute(
            select(VerificationRow.passed)
            .where(VerificationRow.case_id == "C-1")
            .order_by(VerificationRow.verified_at)
        )
        verdicts = [bool(passed) for (passed,) in rows]
    return case.status.value, case.machine_verified, case.reason_code, verdicts


async def detections_stored(recorder: Recorder) -> list[tuple[str, str]]:
    async with recorder.engine.connect() as conn:
        rows = await conn.execute(
            select(DetectionRow.detection_id, DetectionRow.source_id).order_by(
                DetectionRow.detection_id
            )
        )
        return [(d, s) for d, s in rows]


@PREPARE
async def test_a_look_later_in_the_batch_judges_a_case_completed_earlier_in_it(
    recorder: Recorder, prepare: bool
) -> None:
    await recorder.record(recorder.event(reported("det-1", 0.92), case_id=""))
    await recorder.record(recorder.event(filed("det-1"), case_id="C-1"))
    await recorder.record(
        recorder.event(completed(), case_id="C-1"),
        recorder.event(reported("det-2", 0.12), case_id=""),
        prepare=prepare,
    )
    assert await outcome(recorder) == ("closed", True, "MACHINE_VERIFIED", [True])


@PREPARE
async def test_a_whole_story_in_one_batch_is_judged_by_its_source(
    recorder: Recorder, prepare: bool
) -> None:
    """Reported (far from where the case is filed), filed, done, withdrawn:
    the withdrawal is the same source's only through the batch's own
    detection and link, neither of them written before the look."""
    await recorder.record(
        recorder.event(reported("det-1", 0.92, FAR), case_id=""),
        recorder.event(filed("det-1"), case_id="C-1"),
        recorder.event(completed(), case_id="C-1"),
        recorder.event(withdrawn("det-1"), case_id=""),
        prepare=prepare,
    )
    assert await outcome(recorder) == ("closed", True, "MACHINE_VERIFIED", [True])
    assert await detections_stored(recorder) == [("det-1", "cam-17")]


@PREPARE
async def test_a_detection_recorded_earlier_in_the_batch_gives_a_look_its_source(
    recorder: Recorder, prepare: bool
) -> None:
    """The case was filed from det-1 before audit recorded det-1's report; the
    report and a far relook of cam-17 arrive in one batch: the relook is the
    case's source through det-1, recorded but not written yet."""
    await recorder.record(recorder.event(filed("det-1"), case_id="C-1"))
    await recorder.record(recorder.event(completed(), case_id="C-1"))
    await recorder.record(
        recorder.event(reported("det-1", 0.92, FAR, before=True), case_id=""),
        recorder.event(reported("det-2", 0.12, FAR), case_id=""),
        prepare=prepare,
    )
    assert await outcome(recorder) == ("closed", True, "MACHINE_VERIFIED", [True])
    assert await detections_stored(recorder) == [("det-1", "cam-17"), ("det-2", "cam-17")]


@PREPARE
async def test_a_case_decided_earlier_in_the_batch_is_not_judged_again(
    recorder: Recorder, prepare: bool
) -> None:
    """A confident look sends the case back (返工); a later look in the same
    batch finds it no longer awaiting verification."""
    await recorder.record(recorder.event(reported("det-1", 0.92), case_id=""))
    await recorder.record(recorder.event(filed("det-1"), case_id="C-1"))
    await recorder.record(
        recorder.event(completed(), case_id="C-1"),
        recorder.event(reported("det-2", 0.88), case_id=""),
        recorder.event(reported("det-3", 0.05), case_id=""),
        prepare=prepare,
    )
    assert await outcome(recorder) == ("rework", False, "", [False])


async def test_a_look_of_a_later_batch_is_recorded_once_and_reads_the_stored_source(
    recorder: Recorder,
) -> None:
    """A detection redelivered in a later batch is not stored twice, and a
    withdrawal then reads its source from the table."""
    await recorder.record(recorder.event(reported("det-1", 0.92, FAR, before=True), case_id=""))
    await recorder.record(recorder.event(filed("det-1"), case_id="C-1"))
    await recorder.record(recorder.event(completed(), case_id="C-1"))
    await recorder.record(
        recorder.event(reported("det-1", 0.92, FAR, before=True), case_id=""),
        recorder.event(withdrawn("det-1"), case_id=""),
    )
    assert await outcome(recorder) == ("closed", True, "MACHINE_VERIFIED", [True])
    assert await detections_stored(recorder) == [("det-1", "cam-17")]
