"""Fusion, the confidence policy, withdrawal, triage and the loop's new events,
through intake's real entrypoints: JetStream in and out, gRPC on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch
from cityops.intake.v1 import case_pb2, events_pb2
from cityops.intake.v1 import intake_service_pb2 as pb
from cityops.workorders.v1 import events_pb2 as workorders
from intake.adapters.subjects import (
    CASE_CORROBORATED,
    CASE_FILED,
    CASE_MERGED,
    CASE_RECLASSIFIED,
    CASE_REJECTED,
    DETECTION_DISCARDED,
)
from svckit.grpc.identity import Caller
from svckit.messaging import subjects
from svckit.metrics import REGISTRY
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event, stream_messages

from .conftest import Intake

Report = Callable[..., detection_events.DetectionReported]
Near = Callable[..., tuple[float, float]]
OPERATOR = Caller(user_id="op-1", role="operator").metadata()
SUPERVISOR = Caller(user_id="sup-1", role="supervisor").metadata()
DEPARTMENT = Caller(user_id="d-1", role="department_user", department_id="dept-a").metadata()
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DETECTION_WITHDRAWN = subjects.subject("detection", "detection", "withdrawn")
SOURCES = (("cam-1", "video_ai"), ("cam-2", "video_ai"), ("cam-3", "video_ai"), ("uav-1", "drone"))


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


async def intake_subjects(js: JetStreamContext) -> list[str]:
    return [m.subject or "" for m in await stream_messages(js, "INTAKE")]


async def all_cases(intake: Intake) -> list[case_pb2.Case]:
    return list((await intake.stub.ListCases(pb.ListCasesRequest(page_size=500))).cases)


async def settled(intake: Intake, published: int) -> None:
    """Wait until intake has handled every detection event published so far."""

    async def done() -> bool:
        info = await intake.js.consumer_info("DETECTION", "intake-detection")
        return info.delivered.stream_seq >= published and not info.num_ack_pending

    await eventually(done, timeout=30)


async def test_a_pothole_seen_100_times_is_one_case_and_apart_they_are_many(
    intake: Intake, inside: tuple[float, float], detection_report: Report, near: Near
) -> None:
    for i in range(100):
        source, kind = SOURCES[i % 4]
        point = near(inside, (i % 7) * 3.0, (i % 5) * 2.0)  # within 20 m
        message = detection_report(
            point,
            f"pothole-{i:03d}",
            code="E0105",
            source_id=source,
            kind=kind,
            observed_at=T0 + timedelta(seconds=6 * i),
        )
        await publish_event(intake.js, message, subjects.DETECTION_REPORTED)
    window = timedelta(minutes=30)  # config/intake/policy.yaml, E0105
    elsewhere = near(inside, 3000)
    apart = [
        detection_report(near(elsewhere, 40 * i), f"apart-{i}", code="E0105") for i in range(3)
    ] + [
        detection_report(
            near(elsewhere, 0, 2000), f"later-{i}", code="E0105", observed_at=T0 + (window * 2) * i
        )
        for i in range(3)
    ]
    for message in apart:
        await publish_event(intake.js, message, subjects.DETECTION_REPORTED)
    await settled(intake, 106)

    async def published() -> list[str] | None:
        sent = await intake_subjects(intake.js)
        return sent if len(sent) >= 106 else None

    sent = await eventually(published, timeout=15)
    cases = await all_cases(intake)
    assert len(cases) == 7
    [pothole] = [c for c in cases if c.detection_count > 1]
    assert len(pothole.detection_ids) == 100 and len(set(pothole.detection_ids)) == 100
    assert pothole.state == case_pb2.CASE_STATE_FILED and len(pothole.evidence) == 100
    assert sent.count(CASE_FILED) == 7 and sent.count(CASE_CORROBORATED) == 99
    last = [
        m for m in await stream_messages(intake.js, "INTAKE") if m.subject == CASE_CORROBORATED
    ][-1]
    assert events_pb2.CaseCorroborated.FromString(last.data or b"").detection_count == 100


async def test_policy_bands_and_the_triage_queue_over_grpc(
    intake: Intake,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
    spans: InMemorySpanExporter,
) -> None:
    for n, confidence in enumerate((0.95, 0.6, 0.2)):
        message = detection_report(near(inside, 500 * n), f"band-{n}", confidence=confidence)
        await publish_event(intake.js, message, subjects.DETECTION_REPORTED)
    await settled(intake, 3)

    async def both_published() -> list[str] | None:
        sent = await intake_subjects(intake.js)
        return sent if len(sent) >= 2 else None

    sent = await eventually(both_published, timeout=15)
    queue = await intake.stub.ListTriageQueue(pb.ListTriageQueueRequest(), metadata=OPERATOR)
    assert [list(c.detection_ids) for c in queue.cases] == [["band-1"]] and queue.total_size == 1
    discarded = await intake.stub.ListDiscardedDetections(
        pb.ListDiscardedDetectionsRequest(), metadata=OPERATOR
    )
    [low] = discarded.detections
    assert (low.detection_id, low.confidence, low.threshold) == ("band-2", 0.2, 0.5)
    assert low.reason == events_pb2.DISCARD_REASON_BELOW_THRESHOLD
    await intake.runtime.metrics.sample_once()
    assert REGISTRY.get_sample_value("cityops_intake_cases", {"state": "triage"}) == 1
    discards = REGISTRY.get_sample_value(
        "cityops_intake_discarded_detections", {"reason": "below_threshold"}
    )
    assert discards == 1
    assert sent.count(CASE_FILED) == 1 and sent.count(DETECTION_DISCARDED) == 1

    queued = queue.cases[0]
    request = pb.FileCaseRequest(request_id="file-1", case_id=queued.case_id, note="确认")
    filed = await intake.stub.FileCase(request, metadata=OPERATOR)
    again = await intake.stub.FileCase(request, metadata=OPERATOR)
    assert filed == again and filed.case.state == case_pb2.CASE_STATE_FILED
    [decision] = [s for s in spans.get_finished_spans() if s.name == "intake.file"]
    assert [format(link.context.trace_id, "032x") for link in decision.links] == [queued.trace_id]

    async def two_filed() -> bool:
        return (await intake_subjects(intake.js)).count(CASE_FILED) == 2

    await eventually(two_filed, timeout=15)
    empty = await intake.stub.ListTriageQueue(pb.ListTriageQueueRequest(), metadata=OPERATOR)
    assert empty.total_size == 0


async def status_of(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call()  # type: ignore[misc]
    return refused.value.code()


async def test_triage_rpcs_reject_merge_reclassify_urgency_and_their_refusals(
    intake: Intake, inside: tuple[float, float], detection_report: Report, near: Near
) -> None:
    for n in range(3):
        message = detection_report(near(inside, 600 * n), f"t-{n}", code="E0105", confidence=0.6)
        await publish_event(intake.js, message, subjects.DETECTION_REPORTED)
    await settled(intake, 3)
    queue = await intake.stub.ListTriageQueue(pb.ListTriageQueueRequest(), metadata=OPERATOR)
    first, second, third = (c.case_id for c in queue.cases)

    rejected = await intake.stub.RejectCase(
        pb.RejectCaseRequest(
            request_id="rej-1",
            case_id=first,
            reason=case_pb2.REJECT_REASON_NOT_IN_SCOPE,
            note="私人小区道路",
        ),
        metadata=SUPERVISOR,
    )
    assert rejected.case.state == case_pb2.CASE_STATE_REJECTED
    merged = await intake.stub.MergeCase(
        pb.MergeCaseRequest(request_id="mrg-1", case_id=second, duplicate_of=third),
        metadata=OPERATOR,
    )
    assert merged.case.state == case_pb2.CASE_STATE_MERGED
    assert sorted(merged.target.detection_ids) == ["t-1", "t-2"]
    moved = await intake.stub.ReclassifyCase(
        pb.ReclassifyCaseRequest(request_id="cls-1", case_id=third, category_code="E0103"),
        metadata=OPERATOR,
    )
    assert moved.case.category_code == "E0103" and moved.case.state == case_pb2.CASE_STATE_TRIAGE
    urgent = await intake.stub.SetUrgency(
        pb.SetUrgencyRequest(request_id="urg-1", case_id=third, urgency=3), metadata=OPERATOR
    )
    assert urgent.case.urgency == 3

    async def published() -> bool:
        sent = await intake_subjects(intake.js)
        return all(s in sent for s in (CASE_REJECTED, CASE_MERGED, CASE_RECLASSIFIED))

    await eventually(published, timeout=15)

    stub = intake.stub
    refusals: list[tuple[Callable[[], object], grpc.StatusCode]] = [
        (
            lambda: stub.FileCase(
                pb.FileCaseRequest(request_id="x1", case_id="case-nope"), metadata=OPERATOR
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            lambda: stub.FileCase(
                pb.FileCaseRequest(request_id="x2", case_id=first), metadata=OPERATOR
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            lambda: stub.RejectCase(
                pb.RejectCaseRequest(request_id="x3", case_id=third), metadata=OPERATOR
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.MergeCase(
                pb.MergeCaseRequest(request_id="x4", case_id=third, duplicate_of=first),
                metadata=OPERATOR,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            lambda: stub.ReclassifyCase(
                pb.ReclassifyCaseRequest(request_id="x5", case_id=third, category_code="Z9999"),
                metadata=OPERATOR,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.FileCase(
                pb.FileCaseRequest(request_id="x6", case_id=third), metadata=DEPARTMENT
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        (
            lambda: stub.FileCase(pb.FileCaseRequest(request_id="x7", case_id=third)),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
    ]
    for call, code in refusals:
        assert await status_of(call) == code
    after = (await stub.GetCase(pb.GetCaseRequest(case_id=third))).case
    assert after.state == case_pb2.CASE_STATE_TRIAGE and after.urgency == 3


async def test_a_cancelled_detection_closes_its_triage_case(
    intake: Intake, inside: tuple[float, float], detection_report: Report
) -> None:
    await publish_event(
        intake.js, detection_report(inside, "gone", confidence=0.6), subjects.DETECTION_REPORTED
    )
    await settled(intake, 1)
    withdrawal = detection_events.DetectionWithdrawn(
        detection_id="gone",
        reason="CAP Cancel: false alarm",
        withdrawn_at=stamp(T0),
        kind=detection_events.WITHDRAWAL_KIND_CANCELLED,
    )
    await publish_event(intake.js, withdrawal, DETECTION_WITHDRAWN)
    await settled(intake, 2)
    [case] = await all_cases(intake)
    assert case.state == case_pb2.CASE_STATE_REJECTED
    assert case.reject_reason == case_pb2.REJECT_REASON_WITHDRAWN
    assert list(case.withdrawn_detection_ids) == ["gone"]


async def test_returns_redispatch_progress_escalation_and_backlog_keep_the_state(
    intake: Intake, inside: tuple[float, float], detection_report: Report
) -> None:
    await publish_event(intake.js, detection_report(inside, "loop"), subjects.DETECTION_REPORTED)
    await settled(intake, 1)
    [case] = await all_cases(intake)
    # Real times: the arbitration request carries none, so it is dated by its envelope (now).
    base = datetime.now(UTC) - timedelta(minutes=5)
    at = [stamp(base + timedelta(minutes=m)) for m in range(12)]
    cid = case.case_id
    lead_b = dispatch.CaseDispatched(case_id=cid, department_id="dept-b", dispatched_at=at[6])
    steps: list[tuple[Message, str]] = [
        (
            dispatch.CaseDispatched(case_id=cid, department_id="dept-a", dispatched_at=at[1]),
            subjects.CASE_DISPATCHED,
        ),
        (
            workorders.WorkOrderReturned(case_id=cid, department_id="dept-a", returned_at=at[3]),
            subjects.WORKORDER_RETURNED,
        ),
        (dispatch.CaseArbitrationRequested(case_id=cid), subjects.CASE_ARBITRATION_REQUESTED),
    ]
    for message, subject in steps:
        await publish_event(intake.js, message, subject, case_id=cid)

    async def state(expected: case_pb2.CaseState.ValueType) -> case_pb2.Case | None:
        current = (await intake.stub.GetCase(pb.GetCaseRequest(case_id=cid))).case
        return current if current.state == expected else None

    async def awaiting_arbitration() -> case_pb2.Case | None:
        current = await state(case_pb2.CASE_STATE_RETURNED)
        return current if current and current.arbitration_requested else None

    returned = await eventually(awaiting_arbitration, timeout=15)
    assert returned.lead_department_id == "dept-a"
    later: list[tuple[Message, str]] = [
        (
            dispatch.CaseRedispatched(dispatch=lead_b, previous_department_id="dept-a"),
            subjects.CASE_REDISPATCHED,
        ),
        (
            workorders.WorkOrderProgressed(
                case_id=cid, department_id="dept-b", progressed_at=at[7]
            ),
            subjects.WORKORDER_PROGRESSED,
        ),
        (dispatch.CaseEscalated(case_id=cid, level=2, escalated_at=at[8]), subjects.CASE_ESCALATED),
        (
            workorders.WorkOrderAccepted(case_id=cid, department_id="dept-a", accepted_at=at[2]),
            subjects.WORKORDER_ACCEPTED,
        ),
    ]
    for message, subject in later:
        await publish_event(intake.js, message, subject, case_id=cid)

    async def escalated() -> case_pb2.Case | None:
        current = await state(case_pb2.CASE_STATE_IN_PROGRESS)
        return current if current and current.escalation_level == 2 else None

    working = await eventually(escalated, timeout=15)
    assert working.lead_department_id == "dept-b" and not working.arbitration_requested
    backlog = dispatch.CaseBacklogged(case_id=cid, backlogged_at=at[10], reason="需整体改造")
    await publish_event(intake.js, backlog, subjects.CASE_BACKLOGGED, case_id=cid)
    await eventually(lambda: state(case_pb2.CASE_STATE_BACKLOGGED), timeout=15)
