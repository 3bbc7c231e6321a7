"""The audit service in-process against a real nats-server, driven as in
production: producers' events on their streams, people over gRPC."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import evaluation_pb2
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from services.audit.tests.component.conftest import AUDITOR, CASE, Audit, status_of
from svckit.clock import utcnow
from svckit.grpc.identity import Caller
from svckit.messaging import subjects
from svckit.messaging.envelope import Envelope
from svckit.tables import DeadLetter
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_envelope

D01 = "D01-transport"
WORKER = Caller("u-d01", "department_user", D01)
INSPECTOR = Caller("u-insp", "inspector", "D90-inspection")
OPERATOR = Caller("u-op", "operator", "D00-centre")


def the_story() -> list[tuple[str, Message, str]]:
    """One case from detection to completion, as the producers publish it."""
    worker = WORKER.to_actor()
    return [
        (
            "intake",
            intake_events.CaseFiled(
                case=case_pb2.Case(case_id=CASE, category_code="E0105", detection_ids=["det-1"])
            ),
            subjects.CASE_FILED,
        ),
        (
            "dispatch",
            dispatch_events.CaseDispatched(case_id=CASE, dispatch_id="dsp-1", department_id=D01),
            subjects.CASE_DISPATCHED,
        ),
        (
            "workorders",
            workorder_events.WorkOrderCreated(
                work_order=work_order_pb2.WorkOrder(
                    order_id="wo-1", case_id=CASE, department_id=D01
                )
            ),
            subjects.WORKORDER_CREATED,
        ),
        (
            "workorders",
            workorder_events.WorkOrderAccepted(
                order_id="wo-1", case_id=CASE, department_id=D01, actor=worker
            ),
            subjects.WORKORDER_ACCEPTED,
        ),
        (
            "workorders",
            workorder_events.WorkOrderCompleted(
                order_id="wo-1", case_id=CASE, department_id=D01, actor=worker
            ),
            subjects.WORKORDER_COMPLETED,
        ),
    ]


async def test_a_case_from_detection_to_closure(audit: Audit, spans: InMemorySpanExporter) -> None:
    detection = detection_events.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-1",
            category_code="E0105",
            source_kind=detection_pb2.SOURCE_KIND_VIDEO_AI,
        )
    )
    with trace.get_tracer("test").start_as_current_span("discovery") as discovery:
        origin_trace = format(discovery.get_span_context().trace_id, "032x")
        await audit.published_then_recorded("detection", detection, subjects.DETECTION_REPORTED)
        for producer, message, subject in the_story():
            await audit.published_then_recorded(producer, message, subject)

    read = AUDITOR.metadata()
    timeline = (
        await audit.stub.GetTimeline(api.GetTimelineRequest(case_id=CASE), metadata=read)
    ).entries
    assert [(e.sequence, e.summary) for e in timeline] == [
        (1, "发现 E0105 道路破损（视频AI）"),
        (2, "立案 E0105 道路破损"),
        (3, "派遣至 D01-transport"),
        (4, "生成工单 D01-transport"),
        (5, "签收"),
        (6, "处置完成"),
    ]
    assert timeline[0].case_id == "" and timeline[1].case_id == CASE
    assert (timeline[5].actor_user_id, timeline[5].department_id, timeline[5].producer) == (
        "u-d01",
        D01,
        "workorders",
    )
    assert all(e.trace_id == origin_trace and e.span_id for e in timeline)
    assert all(b.previous_hash == a.entry_hash for a, b in pairwise(timeline))

    # 结案 before 核查, 核查 by the disposing department or the wrong role: refused.
    close = api.CloseCaseRequest(request_id="close-1", case_id=CASE, reason_code="resolved")
    assert await status_of(audit.stub.CloseCase(close, metadata=OPERATOR.metadata())) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    verify = api.VerifyCaseRequest(
        request_id="ver-req-1", case_id=CASE, passed=True, note="路面已修复"
    )
    same_department = Caller("u-d01-lead", "inspector", D01)
    assert await status_of(audit.stub.VerifyCase(verify, metadata=same_department.metadata())) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert await status_of(audit.stub.VerifyCase(verify, metadata=WORKER.metadata())) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    unknown = api.VerifyCaseRequest(request_id="ver-req-0", case_id="C-none", passed=True)
    assert await status_of(audit.stub.VerifyCase(unknown, metadata=INSPECTOR.metadata())) == (
        grpc.StatusCode.NOT_FOUND
    )

    # 核查 by an inspector: CaseVerified on the AUDIT stream, once however often it is asked.
    verified = await audit.stub.VerifyCase(verify, metadata=INSPECTOR.metadata())
    again = await audit.stub.VerifyCase(verify, metadata=INSPECTOR.metadata())
    assert verified.verification_id and again.verification_id == verified.verification_id
    await eventually(lambda: audit.has_entries(7), timeout=15)
    raw = await audit.js.get_last_msg("AUDIT", subjects.CASE_VERIFIED)
    event = audit_events.CaseVerified.FromString(raw.data or b"")
    assert (event.case_id, event.verification_id, event.verifier.user_id) == (
        CASE,
        verified.verification_id,
        "u-insp",
    )
    assert raw.headers is not None and raw.headers["ce-subject"] == CASE

    closed = await audit.stub.CloseCase(close, metadata=OPERATOR.metadata())
    assert closed.case_id == CASE
    await eventually(lambda: audit.has_entries(8), timeout=15)
    closed_msg = await audit.js.get_last_msg("AUDIT", subjects.CASE_CLOSED)
    assert audit_events.CaseClosed.FromString(closed_msg.data).reason_code == "resolved"

    # A redelivered event (same ce-id, new Nats-Msg-Id, past JetStream's dedup) adds nothing.
    dispatch_worker = next(w for w in audit.runtime.workers if w.consumer == "audit-dispatch")
    handled = dispatch_worker.handled
    first = await audit.js.get_msg("DISPATCH", 1)
    headers = {**(first.headers or {}), "Nats-Msg-Id": "redelivered"}
    await audit.js.publish(subjects.CASE_DISPATCHED, first.data, headers=headers)

    async def redelivery_handled() -> bool:
        return dispatch_worker.handled > handled

    await eventually(redelivery_handled, timeout=15)

    timeline = (
        await audit.stub.GetTimeline(api.GetTimelineRequest(case_id=CASE), metadata=read)
    ).entries
    assert [e.summary for e in timeline[6:]] == ["核查通过", "结案"]
    assert [e.sequence for e in timeline] == list(range(1, 9))
    assert timeline[6].actor_user_id == "u-insp" and timeline[7].actor_user_id == "u-op"
    ledger = await audit.stub.VerifyLedger(api.VerifyLedgerRequest(), metadata=read)
    assert (ledger.ok, ledger.entries_checked, ledger.first_bad_sequence) == (True, 8, 0)

    # Human actions days later link back to the case's discovery trace.
    finished = {s.name: s for s in spans.get_finished_spans()}
    for name in ("audit.verify", "audit.close"):
        links = finished[name].links
        assert [format(link.context.trace_id, "032x") for link in links] == [origin_trace]
    assert dict(finished["audit.verify"].attributes or {})["cityops.case_id"] == CASE


async def test_reading_and_rework(audit: Audit) -> None:
    for producer, message, subject in the_story():
        await audit.published_then_recorded(producer, message, subject)
    request = api.GetTimelineRequest(case_id=CASE)
    assert await status_of(audit.stub.GetTimeline(request, metadata=WORKER.metadata())) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    missing = api.GetTimelineRequest(case_id="C-none")
    assert await status_of(audit.stub.GetTimeline(missing, metadata=AUDITOR.metadata())) == (
        grpc.StatusCode.NOT_FOUND
    )
    failed = api.VerifyCaseRequest(request_id="r-1", case_id=CASE, passed=False, note="坑槽未填平")
    await audit.stub.VerifyCase(failed, metadata=INSPECTOR.metadata())
    await eventually(lambda: audit.has_entries(6), timeout=15)
    rework = audit_events.CaseRework.FromString(
        (await audit.js.get_last_msg("AUDIT", subjects.CASE_REWORK)).data
    )
    assert rework.note == "坑槽未填平"
    # Back with the department: neither verifying again nor closing is possible yet.
    again = api.VerifyCaseRequest(request_id="r-2", case_id=CASE, passed=True)
    assert await status_of(audit.stub.VerifyCase(again, metadata=INSPECTOR.metadata())) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    close = api.CloseCaseRequest(request_id="c-1", case_id=CASE, reason_code="resolved")
    assert await status_of(audit.stub.CloseCase(close, metadata=OPERATOR.metadata())) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    timeline = (await audit.stub.GetTimeline(request, metadata=AUDITOR.metadata())).entries
    assert timeline[-1].summary == "核查不通过，返工"


async def test_every_event_is_recorded_and_a_rejected_case_closes_without_verification(
    audit: Audit,
) -> None:
    # A type this build has no code for (a newer intake), on intake's stream.
    unknown = Envelope(
        id="evt-unknown-1",
        type="cityops.intake.v2.CaseTeleported",
        source="/cityops/intake",
        subject="cityops.intake.case.teleported",
        case_id=CASE,
        time=utcnow(),
        body=case_pb2.Case(case_id=CASE, title="坐标漂移").SerializeToString(),
    )
    await publish_envelope(audit.js, unknown)
    await eventually(lambda: audit.has_entries(1), timeout=15)
    await audit.published_then_recorded(
        "intake",
        intake_events.CaseRejected(case_id=CASE, reason=case_pb2.REJECT_REASON_FALSE_ALARM),
        "cityops.intake.case.rejected",
    )
    async with audit.runtime.engine.connect() as conn:
        dead = (await conn.execute(select(func.count()).select_from(DeadLetter))).scalar_one()
    assert dead == 0
    timeline = (
        await audit.stub.GetTimeline(
            api.GetTimelineRequest(case_id=CASE), metadata=AUDITOR.metadata()
        )
    ).entries
    assert [e.summary for e in timeline] == ["CaseTeleported", "不予立案：误报"]
    assert timeline[0].event_type == "cityops.intake.v2.CaseTeleported"

    resolved = api.CloseCaseRequest(request_id="c-0", case_id=CASE, reason_code="RESOLVED")
    assert await status_of(audit.stub.CloseCase(resolved, metadata=OPERATOR.metadata())) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    close = api.CloseCaseRequest(request_id="c-1", case_id=CASE, reason_code="REJECTED")
    await audit.stub.CloseCase(close, metadata=OPERATOR.metadata())
    await eventually(lambda: audit.has_entries(3), timeout=15)
    closed = audit_events.CaseClosed.FromString(
        (await audit.js.get_last_msg("AUDIT", subjects.CASE_CLOSED)).data
    )
    assert (closed.reason_code, closed.machine_verified) == ("REJECTED", False)


async def test_evaluation_over_grpc(audit: Audit) -> None:
    for producer, message, subject in the_story():
        await audit.published_then_recorded(producer, message, subject)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(utcnow() - timedelta(days=1))
    end.FromDatetime(utcnow() + timedelta(days=1))
    request = api.EvaluateRequest(
        period_start=start, period_end=end, group_by=evaluation_pb2.EVALUATION_GROUP_BY_DEPARTMENT
    )
    report = (await audit.stub.Evaluate(request, metadata=AUDITOR.metadata())).report
    assert report.formula_version == "2026.1" and report.ledger_tree_size == 5
    assert [r.group_key for r in report.rows] == [D01]
    figures = {f.code: f for f in report.rows[0].figures}
    assert list(figures["dispatched"].case_ids) == [CASE] and figures["accepted"].value == 1
    export = api.ExportEvaluationRequest(
        period_start=start,
        period_end=end,
        group_by=evaluation_pb2.EVALUATION_GROUP_BY_DISTRICT,
        format=api.EXPORT_FORMAT_XLSX,
    )
    sheet = await audit.stub.ExportEvaluation(export, metadata=AUDITOR.metadata())
    assert sheet.content.startswith(b"PK") and sheet.filename.endswith("-v2026.1.xlsx")
    no_group = api.EvaluateRequest(period_start=start, period_end=end)
    assert await status_of(audit.stub.Evaluate(no_group, metadata=AUDITOR.metadata())) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert await status_of(audit.stub.Evaluate(request, metadata=WORKER.metadata())) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
