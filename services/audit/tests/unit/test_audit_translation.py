"""What each received event means for the ledger: case, actor, department, summary."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message

from audit.adapters.integration_events import EventTranslator, verification_event
from audit.adapters.unknown_types import ensure_decodable, is_placeholder
from audit.domain.model import Party, Verification
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.console.v1 import events_pb2 as console_events
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from svckit.messaging import codec, subjects
from svckit.messaging.envelope import IncomingEvent

NAMES = {"E0105": "道路破损"}
translator = EventTranslator(lambda code: NAMES.get(code, ""))
D01 = "D01-transport"
WORKER = common_pb2.Actor(
    user_id="u-d01", department_id=D01, role=common_pb2.ACTOR_ROLE_DEPARTMENT_USER
)


def incoming(message: Message, subject: str, case_id: str = "C-1") -> IncomingEvent:
    return IncomingEvent(
        id="evt-1",
        type=message.DESCRIPTOR.full_name,
        source="/cityops/test",
        subject=subject,
        case_id=case_id,
        time=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        message=message,
        headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
    )


def test_a_detection_has_no_case_yet_and_names_its_source() -> None:
    message = detection_events.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-1",
            category_code="E0105",
            source_kind=detection_pb2.SOURCE_KIND_VIDEO_AI,
        )
    )
    facts = translator.facts(incoming(message, subjects.DETECTION_REPORTED, case_id=""))
    assert (facts.case_id, facts.detection_id, facts.producer) == ("", "det-1", "detection")
    assert facts.summary == "发现 E0105 道路破损（视频AI）"
    assert facts.payload_sha256 == hashlib.sha256(message.SerializeToString()).hexdigest()


def test_a_filing_links_its_detections_and_carries_the_origin_trace() -> None:
    message = intake_events.CaseFiled(
        case=case_pb2.Case(case_id="C-1", category_code="E0105", detection_ids=["det-1", "det-2"])
    )
    facts = translator.facts(incoming(message, subjects.CASE_FILED, case_id=""))
    assert facts.case_id == "C-1"  # from the message when the header is missing
    assert facts.filed_detection_ids == ("det-1", "det-2")
    assert facts.files_case and facts.traceparent.startswith("00-aaaa")
    assert facts.summary == "立案 E0105 道路破损"


def test_an_unknown_category_falls_back_to_the_title() -> None:
    message = intake_events.CaseFiled(case=case_pb2.Case(category_code="E9999", title="路灯不亮"))
    assert translator.summary(message) == "立案 E9999 路灯不亮"


def test_dispatch_and_work_order_events() -> None:
    dispatched = translator.facts(
        incoming(
            dispatch_events.CaseDispatched(case_id="C-1", department_id=D01),
            subjects.CASE_DISPATCHED,
        )
    )
    assert (dispatched.summary, dispatched.ledger_department_id) == ("派遣至 D01-transport", D01)
    created = translator.facts(
        incoming(
            workorder_events.WorkOrderCreated(
                work_order=work_order_pb2.WorkOrder(order_id="wo-1", department_id=D01)
            ),
            subjects.WORKORDER_CREATED,
        )
    )
    assert (created.summary, created.department_id) == ("生成工单 D01-transport", D01)
    completed = translator.facts(
        incoming(
            workorder_events.WorkOrderCompleted(order_id="wo-1", department_id=D01, actor=WORKER),
            subjects.WORKORDER_COMPLETED,
        )
    )
    assert completed.completes_work and completed.summary == "处置完成"
    assert (completed.actor_user_id, completed.actor_department_id) == ("u-d01", D01)


def test_audit_events_name_their_actor() -> None:
    verified = verification_event(
        Verification(
            "ver-1",
            "C-1",
            Party("u-insp", "D90", "inspector"),
            True,
            "ok",
            datetime(2024, 5, 2, tzinfo=UTC),
        )
    )
    assert isinstance(verified, audit_events.CaseVerified)
    assert verified.verifier.role == common_pb2.ACTOR_ROLE_INSPECTOR
    facts = translator.facts(incoming(verified, subjects.CASE_VERIFIED))
    assert (facts.summary, facts.actor_user_id, facts.ledger_department_id) == (
        "核查通过",
        "u-insp",
        "D90",
    )
    closed = audit_events.CaseClosed(case_id="C-1", closed_by=WORKER)
    assert translator.facts(incoming(closed, subjects.CASE_CLOSED)).summary == "结案"


def test_an_event_type_audit_does_not_know_is_still_recorded() -> None:
    unroutable = dispatch_events.CaseUnroutable(case_id="C-1", reason="无匹配规则")
    assert translator.summary(unroutable) == "无法派遣：无匹配规则"
    # Any other type: the short type name, the case from its case_id field.
    facts = translator.facts(incoming(common_pb2.Place(grid_code="g1"), "cityops.dispatch.x.y", ""))
    assert (facts.summary, facts.case_id, facts.actor_user_id) == ("Place", "", "")


def test_summaries_are_one_short_line() -> None:
    long_title = "路面" * 100 + "\n第二行"
    message = intake_events.CaseFiled(case=case_pb2.Case(case_id="C-1", title=long_title))
    summary = translator.facts(incoming(message, subjects.CASE_FILED)).summary
    assert len(summary) == 80 and summary.endswith("…") and "\n" not in summary


def summary_of(message: Message) -> str:
    return translator.facts(incoming(message, "cityops.x.y.z")).summary


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            workorder_events.WorkOrderReturned(
                reason=work_order_pb2.RETURN_REASON_OUTSIDE_JURISDICTION, note="不归我们管"
            ),
            "退单：非本单位职责",
        ),
        (workorder_events.WorkOrderProgressed(), "处置进展"),
        (
            workorder_events.WorkOrderCompleted(
                evidence=[common_pb2.EvidenceRef(sha256="a" * 64), common_pb2.EvidenceRef()]
            ),
            "处置完成（2 项证据）",
        ),
        (workorder_events.WorkOrderExtensionRequested(requested_hours=16), "申请延期 16 工作时"),
        (workorder_events.WorkOrderReopened(), "工单重开（返工）"),
        (
            dispatch_events.CaseRedispatched(
                dispatch=dispatch_events.CaseDispatched(department_id="D02-water"),
                previous_department_id=D01,
            ),
            "改派至 D02-water（原 D01-transport）",
        ),
        (
            dispatch_events.CaseDispatched(
                department_id="D02-water", role=dispatch_events.DISPATCH_ROLE_ASSIST
            ),
            "派遣至 D02-water（协办）",
        ),
        (
            dispatch_events.CaseEscalated(
                kind=dispatch_events.ESCALATION_KIND_BREACH, level=2, stage="处置"
            ),
            "督办超期 第2级（处置）",
        ),
        (dispatch_events.ExtensionDecided(approved=True), "延期批准"),
        (dispatch_events.ExtensionDecided(approved=False), "延期驳回"),
        (dispatch_events.CaseArbitrationRequested(), "提请仲裁（退单已穷尽责任单位）"),
        (dispatch_events.CaseBacklogged(reason="待地铁施工结束"), "挂账：待地铁施工结束"),
        (
            dispatch_events.CaseResumed(suspended_hours=30, note="产权已查明"),
            "恢复办理（挂账 30 工作小时）：产权已查明",
        ),
        (dispatch_events.CaseResumed(), "恢复办理"),
        (workorder_events.WorkOrderCancelled(), "工单撤销（改派）"),
        (
            console_events.AccountChanged(
                change=console_events.ACCOUNT_CHANGE_DEACTIVATED, user_id="dept-D01"
            ),
            "停用账号：dept-D01",
        ),
        (console_events.DepartmentCreated(department_id="D09"), "新增部门"),
        (
            intake_events.CaseRejected(reason=case_pb2.REJECT_REASON_FALSE_ALARM),
            "不予立案：误报",
        ),
        (intake_events.CaseMerged(duplicate_of="C-7"), "合并至 C-7"),
        (
            intake_events.CaseReclassified(old_category_code="E0101", new_category_code="E0105"),
            "改类 E0101 → E0105 道路破损",
        ),
        (intake_events.CaseCorroborated(detection_count=3), "新增佐证（共 3 条检测）"),
        (
            intake_events.DetectionDiscarded(
                category_code="E0105", reason=intake_events.DISCARD_REASON_BELOW_THRESHOLD
            ),
            "舍弃检测 E0105 道路破损（低于受理阈值）",
        ),
        (
            detection_events.DetectionWithdrawn(kind=detection_events.WITHDRAWAL_KIND_CLEARED),
            "检测撤销：告警解除",
        ),
        (audit_events.CaseVerified(machine_verified=True), "机器核查通过"),
        (audit_events.CaseRework(machine_verified=True), "机器核查不通过，返工"),
        (audit_events.CaseClosed(reason_code="BACKLOGGED"), "结案（挂账）"),
        (audit_events.CaseClosed(reason_code="MACHINE_VERIFIED"), "结案（机器核查）"),
    ],
)
def test_every_step_of_the_loop_has_a_summary(message: Message, expected: str) -> None:
    assert summary_of(message) == expected


def test_the_actor_of_a_decision_and_the_department_of_a_redispatch() -> None:
    decided = dispatch_events.CaseBacklogged(
        case_id="C-1",
        decided_by=common_pb2.Actor(user_id="u-sup", department_id="D00-centre"),
    )
    facts = translator.facts(incoming(decided, subjects.CASE_BACKLOGGED, case_id=""))
    assert (facts.case_id, facts.actor_user_id, facts.effect.value) == (
        "C-1",
        "u-sup",
        "backlogged",
    )
    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatch_events.CaseDispatched(case_id="C-2", department_id="D02-water")
    )
    facts = translator.facts(incoming(redispatch, subjects.CASE_REDISPATCHED, case_id=""))
    assert (facts.case_id, facts.department_id, facts.effect.value) == (
        "C-2",
        "D02-water",
        "dispatched",
    )
    corroborated = intake_events.CaseCorroborated(case_id="C-1", detection_id="det-9")
    facts = translator.facts(incoming(corroborated, "cityops.intake.case.corroborated"))
    assert facts.filed_detection_ids == ("det-9",)


def test_a_filing_places_the_case_and_a_detection_is_a_fresh_look() -> None:
    point = common_pb2.GeoPoint(latitude=31.2, longitude=121.5)
    filed = intake_events.CaseFiled(
        case=case_pb2.Case(
            case_id="C-1",
            category_code="E0101",
            place=common_pb2.Place(point=point, district_code="D01"),
        )
    )
    place = translator.facts(incoming(filed, subjects.CASE_FILED)).place
    assert place is not None and (place.category_code, place.latitude, place.district_code) == (
        "E0101",
        31.2,
        "D01",
    )
    reported = detection_events.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-2",
            source_id="cam-1",
            category_code="E0101",
            confidence=0.2,
            place=common_pb2.Place(point=point),
        )
    )
    facts = translator.facts(incoming(reported, subjects.DETECTION_REPORTED, case_id=""))
    assert facts.look is not None and not facts.look.absent
    assert (facts.look.source_id, facts.look.confidence, facts.look.at) == (
        "cam-1",
        0.2,
        datetime(2024, 5, 1, 8, 0, tzinfo=UTC),  # no observed_at: the event's time
    )
    withdrawn = detection_events.DetectionWithdrawn(detection_id="det-2")
    facts = translator.facts(incoming(withdrawn, "cityops.detection.detection.withdrawn", ""))
    assert facts.look is not None and facts.look.absent and facts.detection_id == "det-2"


def test_the_received_body_is_what_the_entry_commits_to() -> None:
    message = dispatch_events.CaseDispatched(case_id="C-1")
    facts = translator.facts(incoming(message, subjects.CASE_DISPATCHED), b"\x0a\x03C-1")
    assert facts.payload == b"\x0a\x03C-1"
    assert facts.payload_sha256 == hashlib.sha256(b"\x0a\x03C-1").hexdigest()


def test_an_event_type_this_build_has_no_code_for_becomes_decodable() -> None:
    name = "cityops.intake.v1.CaseTeleportedForTest"
    body = case_pb2.Case(case_id="C-1", title="x").SerializeToString()
    assert ensure_decodable(name) and ensure_decodable(name) and is_placeholder(name)
    decoded = codec.decode(name, body)
    assert decoded.SerializeToString() == body  # every field kept, as unknown fields
    facts = translator.facts(incoming(decoded, "cityops.intake.case.teleported"))
    assert facts.summary == "CaseTeleportedForTest" and facts.payload == body
    assert not ensure_decodable("not a type name") and not is_placeholder("cityops.nope.X")
    assert not ensure_decodable("cityops.intake.v1.CaseFiled.Nested")
