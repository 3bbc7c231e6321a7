"""Intake bootstrapped in-process against a real nats-server, driven through its
real entrypoints: JetStream events in, CaseFiled out, gRPC on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from opentelemetry import trace

from cityops.audit.v1 import events_pb2 as audit
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection
from cityops.dispatch.v1 import events_pb2 as dispatch
from cityops.intake.v1 import case_pb2, events_pb2
from cityops.intake.v1 import intake_service_pb2 as pb
from cityops.workorders.v1 import events_pb2 as workorders
from svckit.grpc.identity import Caller
from svckit.messaging import subjects
from svckit.messaging.envelope import Envelope
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_envelope, publish_event, stream_messages

from .conftest import Intake

OPERATOR = Caller(user_id="op-1", role="operator").metadata()
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def reported(
    point: tuple[float, float], detection_id: str = "det-1"
) -> detection.DetectionReported:
    return detection.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id=detection_id,
            source_id="cam-7",
            category_code="C0101",
            urgency=common_pb2.URGENCY_IMMEDIATE,
            place=common_pb2.Place(
                point=common_pb2.GeoPoint(latitude=point[0], longitude=point[1])
            ),
        )
    )


async def cases(intake: Intake, *states: case_pb2.CaseState.ValueType) -> pb.ListCasesResponse:
    return await intake.stub.ListCases(pb.ListCasesRequest(states=states))


async def filed_events(js: JetStreamContext) -> list[tuple[events_pb2.CaseFiled, dict[str, str]]]:
    out: list[tuple[events_pb2.CaseFiled, dict[str, str]]] = []
    for msg in await stream_messages(js, "INTAKE"):
        if msg.subject == subjects.CASE_FILED:
            out.append((events_pb2.CaseFiled.FromString(msg.data or b""), dict(msg.headers or {})))
    return out


async def filed_count(
    js: JetStreamContext, n: int
) -> list[tuple[events_pb2.CaseFiled, dict[str, str]]]:
    """The CaseFiled events on the INTAKE stream once there are `n` of them."""

    async def enough() -> list[tuple[events_pb2.CaseFiled, dict[str, str]]]:
        events = await filed_events(js)
        return events if len(events) >= n else []

    await eventually(enough, timeout=15)
    return await filed_events(js)


async def handled(intake: Intake, consumer: str, env: Envelope) -> bool:
    async with intake.runtime.uow() as uow:
        return await uow.seen(consumer, env.id) is not None


async def test_a_detection_files_one_case_in_its_discovery_trace(
    intake: Intake, inside: tuple[float, float]
) -> None:
    with trace.get_tracer("test").start_as_current_span("camera alarm") as root:
        discovery = format(root.get_span_context().trace_id, "032x")
        env = await publish_event(intake.js, reported(inside), subjects.DETECTION_REPORTED)
    # The same event again past JetStream's dedup (new Nats-Msg-Id, same ce-id):
    await publish_envelope(intake.js, env, {"Nats-Msg-Id": "resent-1"})

    async def both_handled() -> bool:
        info = await intake.js.consumer_info("DETECTION", "intake-detection")
        return (
            info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq == 2
        )

    await eventually(both_handled, timeout=15)
    listed = await cases(intake)
    assert listed.total_size == 1
    case = listed.cases[0]
    assert case.state == case_pb2.CASE_STATE_FILED and list(case.detection_ids) == ["det-1"]
    assert case.title.startswith("上水井盖 · ") and case.place.district_code
    assert case.urgency == common_pb2.URGENCY_IMMEDIATE
    assert case.trace_id == discovery

    [(filed, filed_headers)] = await filed_count(intake.js, 1)
    assert filed.case.case_id == case.case_id
    assert filed_headers["ce-subject"] == case.case_id
    assert filed_headers["traceparent"].split("-")[1] == discovery


async def test_progress_events_close_the_case_and_a_late_dispatch_changes_nothing(
    intake: Intake, inside: tuple[float, float]
) -> None:
    await publish_event(intake.js, reported(inside), subjects.DETECTION_REPORTED)

    async def one_case() -> str:
        listed = await cases(intake)
        return listed.cases[0].case_id if listed.cases else ""

    case_id = str(await eventually(one_case, timeout=15))
    at = [stamp(T0 + timedelta(minutes=m)) for m in range(10)]
    progress: list[tuple[Message, str]] = [
        (
            dispatch.CaseDispatched(
                case_id=case_id, department_id="dept-water", dispatched_at=at[1], deadline=at[9]
            ),
            subjects.CASE_DISPATCHED,
        ),
        (
            workorders.WorkOrderAccepted(case_id=case_id, accepted_at=at[2]),
            subjects.WORKORDER_ACCEPTED,
        ),
        (
            workorders.WorkOrderCompleted(case_id=case_id, completed_at=at[3]),
            subjects.WORKORDER_COMPLETED,
        ),
        (audit.CaseClosed(case_id=case_id, closed_at=at[4]), subjects.CASE_CLOSED),
    ]
    for message, subject in progress:
        await publish_event(intake.js, message, subject, case_id=case_id)

    async def closed() -> bool:
        return bool((await cases(intake, case_pb2.CASE_STATE_CLOSED)).cases)

    await eventually(closed, timeout=15)
    late = dispatch.CaseDispatched(
        case_id=case_id, department_id="dept-roads", dispatched_at=at[8], deadline=at[9]
    )
    env = await publish_event(intake.js, late, subjects.CASE_DISPATCHED, case_id=case_id)
    await eventually(lambda: handled(intake, "intake-dispatch", env), timeout=15)
    case = (await intake.stub.GetCase(pb.GetCaseRequest(case_id=case_id))).case
    assert case.state == case_pb2.CASE_STATE_CLOSED
    assert case.lead_department_id == "dept-water"
    assert case.deadline.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=9)


async def test_grpc_create_get_and_list(intake: Intake, inside: tuple[float, float]) -> None:
    request = pb.CreateCaseRequest(
        request_id="req-1",
        category_code="C0101",
        point=common_pb2.GeoPoint(latitude=inside[0], longitude=inside[1]),
        urgency=common_pb2.URGENCY_EXPECTED,
    )
    first = await intake.stub.CreateCase(request, metadata=OPERATOR)
    again = await intake.stub.CreateCase(request, metadata=OPERATOR)
    assert again.case == first.case and first.case.state == case_pb2.CASE_STATE_FILED
    second = await intake.stub.CreateCase(
        pb.CreateCaseRequest(
            request_id="req-2", category_code="C0101", title="路口井盖缺失", point=request.point
        ),
        metadata=OPERATOR,
    )
    assert second.case.urgency == common_pb2.URGENCY_UNKNOWN

    got = await intake.stub.GetCase(pb.GetCaseRequest(case_id=first.case.case_id))
    assert got.case == first.case
    page = await intake.stub.ListCases(pb.ListCasesRequest(page_size=1))
    assert page.total_size == 2 and [c.case_id for c in page.cases] == [second.case.case_id]
    rest = await intake.stub.ListCases(
        pb.ListCasesRequest(page_size=1, page_token=page.next_page_token)
    )
    assert [c.case_id for c in rest.cases] == [first.case.case_id] and rest.next_page_token == ""
    none_closed = await cases(intake, case_pb2.CASE_STATE_CLOSED)
    assert none_closed.total_size == 0 and not none_closed.cases

    # The retried request published nothing:
    assert len(await filed_count(intake.js, 2)) == 2

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await intake.stub.GetCase(pb.GetCaseRequest(case_id="case-missing"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    refusals = [
        (pb.CreateCaseRequest(category_code="C0101", point=request.point), OPERATOR),
        (
            pb.CreateCaseRequest(request_id="r3", category_code="Z9999", point=request.point),
            OPERATOR,
        ),
        (
            pb.CreateCaseRequest(
                request_id="r4", category_code="C0101", point=common_pb2.GeoPoint()
            ),
            OPERATOR,
        ),
    ]
    for bad, metadata in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await intake.stub.CreateCase(bad, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await intake.stub.ListCases(pb.ListCasesRequest(page_token="not-a-token"))
    assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await intake.stub.CreateCase(request)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await cases(intake)).total_size == 2
