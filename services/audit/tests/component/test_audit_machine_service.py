"""Machine verification (机器核查) end to end: a camera's fresh look after the
department reported the work done decides the case where the policy allows
(config/audit/verification.yaml), and the decision goes out on the AUDIT
stream marked machine-verified."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from services.audit.tests.component.conftest import AUDITOR, CASE, Audit, status_of
from svckit.clock import utcnow
from svckit.grpc.identity import Caller
from svckit.messaging import subjects
from svckit.testing.polling import eventually
from svckit.testing.streams import stream_events

PLACE = common_pb2.Place(point=common_pb2.GeoPoint(latitude=31.2304, longitude=121.4737))
WORKER = Caller("u-d01", "department_user", "D01-city_management")
INSPECTOR = Caller("u-insp", "inspector", "D90-inspection")


def detection(detection_id: str, category: str, confidence: float, *, later: bool) -> Message:
    observed = Timestamp()
    observed.FromDatetime(utcnow() + (timedelta(seconds=1) if later else -timedelta(hours=1)))
    return detection_events.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id=detection_id,
            source_kind=detection_pb2.SOURCE_KIND_VIDEO_AI,
            source_id="cam-17",
            category_code=category,
            confidence=confidence,
            observed_at=observed,
            place=PLACE,
        )
    )


async def completed_case(audit: Audit, category: str) -> None:
    """Filed from cam-17's detection, dispatched, reported done."""
    story: list[tuple[str, Message, str, str]] = [
        (
            "detection",
            detection("det-1", category, 0.92, later=False),
            subjects.DETECTION_REPORTED,
            "",
        ),
        (
            "intake",
            intake_events.CaseFiled(
                case=case_pb2.Case(
                    case_id=CASE, category_code=category, place=PLACE, detection_ids=["det-1"]
                )
            ),
            subjects.CASE_FILED,
            CASE,
        ),
        (
            "dispatch",
            dispatch_events.CaseDispatched(case_id=CASE, department_id=WORKER.department_id),
            subjects.CASE_DISPATCHED,
            CASE,
        ),
        (
            "workorders",
            workorder_events.WorkOrderCompleted(case_id=CASE, actor=WORKER.to_actor()),
            subjects.WORKORDER_COMPLETED,
            CASE,
        ),
    ]
    for producer, message, subject, case_id in story:
        await audit.published_then_recorded(producer, message, subject, case_id)


async def audit_events_of(audit: Audit) -> list[Message]:
    return [e.message for e in await stream_events(audit.js, "AUDIT")]


@pytest.mark.parametrize("look", ["low-confidence-relook", "alarm-cleared"])
async def test_a_fresh_look_finding_the_problem_gone_verifies_and_closes(
    audit: Audit, look: str
) -> None:
    await completed_case(audit, "E0101")  # 暴露垃圾: machine verification allowed
    if look == "alarm-cleared":
        withdrawn = detection_events.DetectionWithdrawn(
            detection_id="det-1", kind=detection_events.WITHDRAWAL_KIND_CLEARED
        )
        withdrawn.withdrawn_at.FromDatetime(utcnow() + timedelta(seconds=1))
        await audit.publish("detection", withdrawn, "cityops.detection.detection.withdrawn", "")
    else:
        relook = detection("det-2", "E0101", 0.12, later=True)
        await audit.publish("detection", relook, subjects.DETECTION_REPORTED, "")

    async def closed() -> list[Message] | None:
        found = await audit_events_of(audit)
        return found if len(found) == 2 else None

    verified, closing = await eventually(closed, timeout=15)
    assert isinstance(verified, audit_events.CaseVerified) and verified.machine_verified
    assert verified.verifier.user_id == "machine:cam-17"
    assert verified.verifier.role == common_pb2.ACTOR_ROLE_SYSTEM
    assert isinstance(closing, audit_events.CaseClosed) and closing.machine_verified
    assert closing.reason_code == "MACHINE_VERIFIED"

    async def summaries() -> list[str] | None:
        reply = await audit.stub.GetTimeline(
            api.GetTimelineRequest(case_id=CASE), metadata=AUDITOR.metadata()
        )
        found = [e.summary for e in reply.entries]
        return found if "结案（机器核查）" in found else None

    assert (await eventually(summaries, timeout=15))[-2:] == ["机器核查通过", "结案（机器核查）"]


async def test_a_confident_fresh_look_sends_the_case_back(audit: Audit) -> None:
    await completed_case(audit, "E0101")
    await audit.publish(
        "detection", detection("det-3", "E0101", 0.88, later=True), subjects.DETECTION_REPORTED, ""
    )

    async def reworked() -> list[Message] | None:
        found = await audit_events_of(audit)
        return found or None

    (rework,) = await eventually(reworked, timeout=15)
    assert isinstance(rework, audit_events.CaseRework) and rework.machine_verified
    assert rework.detection_id == "det-3" and "仍看到问题" in rework.note
    request = api.VerifyCaseRequest(request_id="v-1", case_id=CASE, passed=True)
    assert await status_of(audit.stub.VerifyCase(request, metadata=INSPECTOR.metadata())) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


async def test_where_policy_forbids_a_person_must_verify(audit: Audit) -> None:
    await completed_case(audit, "E0105")  # 道路破损: never by machine
    await audit.published_then_recorded(
        "detection",
        detection("det-4", "E0105", 0.05, later=True),
        subjects.DETECTION_REPORTED,
        "",
    )
    assert await audit_events_of(audit) == []
    request = api.VerifyCaseRequest(request_id="v-1", case_id=CASE, passed=True)
    reply = await audit.stub.VerifyCase(request, metadata=INSPECTOR.metadata())
    assert reply.verification_id
