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
from intake.adapters.integration_events import (
    STATE_TO_PROTO,
    case_to_proto,
    detection_command,
    progress_from,
)
from intake.domain.model import Case, CaseState, FilingSource, Place
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
    progress = progress_from(event)
    assert progress is not None
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
    ],
)
def test_each_tracked_event_names_its_target_state(message: Message, target: CaseState) -> None:
    progress = progress_from(incoming(message))
    assert progress is not None and progress.target is target and progress.case_id == "case-1"
    if target is not CaseState.UNROUTABLE:
        assert progress.occurred_at == WHEN


def test_an_event_without_its_own_time_uses_the_envelope_time_and_subject() -> None:
    event = incoming(audit.CaseClosed(), service="audit", case_id="case-9")
    progress = progress_from(event)
    assert progress is not None
    assert (progress.case_id, progress.occurred_at) == ("case-9", event.time)


def test_workorder_created_is_not_tracked() -> None:
    created = workorders.WorkOrderCreated(work_order=work_order_pb2.WorkOrder())
    assert progress_from(incoming(created, "workorders")) is None


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
    proto = case_to_proto(case)
    assert proto.state == case_pb2.CASE_STATE_ACCEPTED
    assert proto.place.grid_code == "G01" and list(proto.detection_ids) == ["det-1"]
    assert proto.deadline.ToDatetime(tzinfo=UTC) == WHEN and proto.trace_id == "f" * 32
