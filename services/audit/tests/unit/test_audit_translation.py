"""What each received event means for the ledger: case, actor, department, summary."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from google.protobuf.message import Message

from audit.adapters.integration_events import EventTranslator, verification_event
from audit.domain.model import Party, Verification
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from svckit.messaging import subjects
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
