"""Other services' events → domain progress, and cases → protos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import events_pb2 as audit
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection
from cityops.dispatch.v1 import events_pb2 as dispatch
from cityops.intake.v1 import case_pb2
from cityops.workorders.v1 import events_pb2 as workorders
from cityops.workorders.v1 import work_order_pb2
from intake.adapters.case_protos import REASON_TO_PROTO, STATE_TO_PROTO, case_to_proto
from intake.adapters.integration_events import (
    detection_command,
    signal_from,
    withdrawal_command,
)
from intake.domain.model import (
    ArbitrationRequest,
    Case,
    CaseState,
    Escalation,
    Evidence,
    FilingSource,
    Place,
    Progress,
    RejectReason,
    Resumption,
)
from svckit.errors import PermanentError
from svckit.messaging.envelope import IncomingEvent, unwrap, wrap

WHEN = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def incoming(message: Message, service: str = "dispatch", case_id: str = "") -> IncomingEvent:
    env = wrap(message, service=service, subject=f"cityops.{service}.x.y", case_id=case_id)
    return unwrap(env.subject, env.headers(), env.body)


def test_dispatched_carries_department_deadline_and_its_own_time() -> None:
    deadline = WHEN + timedelta(hours=4)
    event = incoming(
        dispatch.CaseDispatched(
            case_id="case-1",
            department_id="dept-water",
            dispatched_at=stamp(WHEN),
            deadline=stamp(deadline),
        )
    )
    progress = signal_from(event)
    assert isinstance(progress, Progress)
    assert (progress.case_id, progress.target, progress.department_id) == (
        "case-1",
        CaseState.DISPATCHED,
        "dept-water",
    )
    assert (progress.occurred_at, progress.deadline) == (WHEN, deadline)


@pytest.mark.parametrize(
    ("message", "target"),
    [
        (dispatch.CaseUnroutable(case_id="case-1", reason="no rule"), CaseState.UNROUTABLE),
        (
            workorders.WorkOrderAccepted(case_id="case-1", accepted_at=stamp(WHEN)),
            CaseState.ACCEPTED,
        ),
        (
            workorders.WorkOrderCompleted(case_id="case-1", completed_at=stamp(WHEN)),
            CaseState.COMPLETED,
        ),
        (audit.CaseVerified(case_id="case-1", verified_at=stamp(WHEN)), CaseState.VERIFIED),
        (audit.CaseRework(case_id="case-1", verified_at=stamp(WHEN)), CaseState.REWORK),
        (audit.CaseClosed(case_id="case-1", closed_at=stamp(WHEN)), CaseState.CLOSED),
        (
            workorders.WorkOrderProgressed(case_id="case-1", progressed_at=stamp(WHEN)),
            CaseState.IN_PROGRESS,
        ),
        (
            workorders.WorkOrderReturned(case_id="case-1", returned_at=stamp(WHEN)),
            CaseState.RETURNED,
        ),
        (
            workorders.WorkOrderReopened(case_id="case-1", reopened_at=stamp(WHEN)),
            CaseState.REWORK,
        ),
        (
            dispatch.CaseBacklogged(case_id="case-1", backlogged_at=stamp(WHEN)),
            CaseState.BACKLOGGED,
        ),
    ],
)
def test_each_tracked_event_names_its_target_state(message: Message, target: CaseState) -> None:
    progress = signal_from(incoming(message))
    assert isinstance(progress, Progress)
    assert progress.target is target and progress.case_id == "case-1"
    if target is not CaseState.UNROUTABLE:
        assert progress.occurred_at == WHEN


def test_an_event_without_its_own_time_uses_the_envelope_time_and_subject() -> None:
    event = incoming(audit.CaseClosed(), service="audit", case_id="case-9")
    progress = signal_from(event)
    assert isinstance(progress, Progress)
    assert (progress.case_id, progress.occurred_at) == ("case-9", event.time)


def test_workorder_created_is_not_tracked() -> None:
    created = workorders.WorkOrderCreated(work_order=work_order_pb2.WorkOrder())
    assert signal_from(incoming(created, "workorders")) is None


def test_a_detection_without_an_id_is_permanently_invalid() -> None:
    empty = detection.DetectionReported(detection=detection_pb2.Detection(category_code="C0101"))
    with pytest.raises(PermanentError):
        detection_command(incoming(empty, "detection"))


def test_a_detection_becomes_a_filing_command() -> None:
    report = detection.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-1",
            source_id="cam-7",
            category_code="C0101",
            urgency=common_pb2.URGENCY_IMMEDIATE,
            place=common_pb2.Place(
                point=common_pb2.GeoPoint(latitude=31.2, longitude=121.5), district_code="D01"
            ),
        )
    )
    cmd = detection_command(incoming(report, "detection"))
    assert cmd.place == Place(31.2, 121.5, "D01")
    assert (cmd.detection_id, cmd.source_id, cmd.urgency) == ("det-1", "cam-7", 1)


def test_every_domain_state_has_a_proto_state_and_a_case_round_trips() -> None:
    assert set(STATE_TO_PROTO) == set(CaseState)
    case = Case(
        case_id="case-1",
        category_code="C0101",
        title="t",
        place=Place(31.2, 121.5, "D01", "S01", "G01"),
        urgency=2,
        state=CaseState.ACCEPTED,
        filed_at=WHEN,
        updated_at=WHEN,
        source=FilingSource.DETECTION,
        trace_id="f" * 32,
        detection_ids=["det-1"],
        lead_department_id="dept-water",
        deadline=WHEN,
    )
    case.reject_reason = RejectReason.FALSE_ALARM
    proto = case_to_proto(case)
    assert proto.state == case_pb2.CASE_STATE_ACCEPTED
    assert proto.reject_reason == case_pb2.REJECT_REASON_FALSE_ALARM
    assert proto.place.grid_code == "G01" and list(proto.detection_ids) == ["det-1"]
    assert proto.deadline.ToDatetime(tzinfo=UTC) == WHEN and proto.trace_id == "f" * 32


def test_a_redispatch_is_a_lead_dispatch_and_an_assist_dispatch_is_marked() -> None:
    inner = dispatch.CaseDispatched(
        case_id="case-1", department_id="dept-b", dispatched_at=stamp(WHEN), attempt=2
    )
    redispatch = signal_from(incoming(dispatch.CaseRedispatched(dispatch=inner)))
    assert isinstance(redispatch, Progress) and redispatch.dispatch is not None
    assert (redispatch.target, redispatch.department_id, redispatch.assist) == (
        CaseState.DISPATCHED,
        "dept-b",
        False,
    )
    inner.role = dispatch.DISPATCH_ROLE_ASSIST
    inner.lead_department_id = "dept-a"
    helping = signal_from(incoming(inner))
    assert isinstance(helping, Progress) and helping.assist
    assert helping.dispatch is not None and helping.dispatch.lead_department_id == "dept-a"


def test_an_assisting_orders_completion_is_marked_and_the_leads_is_not() -> None:
    done = workorders.WorkOrderCompleted(
        case_id="case-1", department_id="dept-help", role=work_order_pb2.ORDER_ROLE_ASSIST
    )
    signal = signal_from(incoming(done, "workorders"))
    assert isinstance(signal, Progress) and signal.assist and signal.from_department
    done.role = work_order_pb2.ORDER_ROLE_LEAD
    signal = signal_from(incoming(done, "workorders"))
    assert isinstance(signal, Progress) and not signal.assist


def test_escalation_and_arbitration_are_signals_not_states() -> None:
    raised = signal_from(
        incoming(dispatch.CaseEscalated(case_id="case-1", level=2, escalated_at=stamp(WHEN)))
    )
    assert raised == Escalation("case-1", 2, WHEN)
    event = incoming(dispatch.CaseArbitrationRequested(case_id="case-1"))
    assert signal_from(event) == ArbitrationRequest("case-1", event.time)


@pytest.mark.parametrize(
    ("state", "fallback"),
    [
        ("dispatched", CaseState.DISPATCHED),
        ("unroutable", CaseState.UNROUTABLE),
        ("arbitration", CaseState.RETURNED),
        ("", CaseState.DISPATCHED),
    ],
)
def test_a_resumed_case_names_the_state_dispatch_put_it_back_in(
    state: str, fallback: CaseState
) -> None:
    resumed = dispatch.CaseResumed(case_id="case-1", resumed_at=stamp(WHEN), state=state)
    assert signal_from(incoming(resumed)) == Resumption("case-1", WHEN, fallback)
    later = WHEN + timedelta(days=1)
    resumed.moved.add(dispatch_id="DSP-1", department_id="dept-a", deadline=stamp(later))
    assert signal_from(incoming(resumed)) == Resumption(
        "case-1", WHEN, fallback, (("dept-a", later),)
    )


def test_a_detection_carries_what_policy_and_fusion_need() -> None:
    report = detection.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-1",
            idempotency_key="cam-7:evt-1",
            source_kind=detection_pb2.SOURCE_KIND_DRONE,
            source_id="uav-3",
            device_id="M300-1",
            component_id="",
            category_code="E0105",
            observed_at=stamp(WHEN),
            confidence=0.0,
            certainty=common_pb2.CERTAINTY_LIKELY,
            evidence=[common_pb2.EvidenceRef(uri="https://e/1.jpg", sha256="ab", size_bytes=9)],
            supersedes_detection_id="det-0",
        )
    )
    cmd = detection_command(incoming(report, "detection"))
    assert (cmd.source_kind, cmd.certainty, cmd.observed_at) == ("drone", "likely", WHEN)
    assert cmd.evidence == (Evidence("https://e/1.jpg", "ab", "", 9),)
    assert (cmd.source_key, cmd.supersedes_detection_id) == ("M300-1", "det-0")
    assert cmd.idempotency_key == "cam-7:evt-1"
    unstamped = detection_command(
        incoming(
            detection.DetectionReported(
                detection=detection_pb2.Detection(detection_id="d", category_code="E0105")
            ),
            "detection",
        )
    )
    assert unstamped.place is None and unstamped.source_kind == "unspecified"


def test_a_withdrawal_is_cancelled_unless_the_alarm_merely_cleared() -> None:
    cancel = detection.DetectionWithdrawn(
        detection_id="det-1", reason="CAP Cancel", withdrawn_at=stamp(WHEN)
    )
    cmd = withdrawal_command(incoming(cancel, "detection"))
    assert (cmd.detection_id, cmd.cancelled, cmd.withdrawn_at) == ("det-1", True, WHEN)
    cleared = detection.DetectionWithdrawn(
        idempotency_key="k", kind=detection.WITHDRAWAL_KIND_CLEARED
    )
    assert not withdrawal_command(incoming(cleared, "detection")).cancelled
    with pytest.raises(PermanentError):
        withdrawal_command(incoming(detection.DetectionWithdrawn(), "detection"))


def test_every_reject_reason_has_a_proto_reason() -> None:
    assert set(REASON_TO_PROTO) == set(RejectReason)
