"""svckit.messaging.envelope and codec: CloudEvents binary mode over NATS, and
every way an incoming message can be unusable ending in PermanentError."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from svckit.errors import PermanentError
from svckit.messaging import codec
from svckit.messaging.envelope import CONTENT_TYPE, REQUIRED, Envelope, unwrap, wrap
from svckit.messaging.subjects import CASE_FILED, DETECTION_REPORTED

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def filed(case_id: str = "C-1") -> intake_events.CaseFiled:
    return intake_events.CaseFiled(
        case=case_pb2.Case(case_id=case_id, category_code="E0105", detection_ids=["det-1"])
    )


def filed_envelope(**overrides: str) -> tuple[Envelope, dict[str, str]]:
    env = wrap(
        filed(),
        service="intake",
        subject=CASE_FILED,
        case_id="C-1",
        trace_headers={"traceparent": TRACEPARENT},
    )
    return env, env.headers() | overrides


def test_wrap_sets_every_cloudevents_header() -> None:
    before = datetime.now(UTC)
    env, headers = filed_envelope()
    assert before <= env.time <= datetime.now(UTC) and env.time.tzinfo is not None
    assert headers == {
        "ce-specversion": "1.0",
        "ce-id": env.id,
        "ce-type": "cityops.intake.v1.CaseFiled",
        "ce-source": "/cityops/intake",
        "ce-time": env.time.isoformat().replace("+00:00", "Z"),
        "ce-datacontenttype": CONTENT_TYPE,
        "ce-subject": "C-1",
        "Nats-Msg-Id": env.id,
        "traceparent": TRACEPARENT,
    }
    assert headers["ce-time"].endswith("Z")
    assert (env.subject, env.body) == (CASE_FILED, filed().SerializeToString())


def test_the_message_id_is_the_event_id_and_unique_per_event() -> None:
    ids = {filed_envelope()[1]["ce-id"] for _ in range(50)}
    assert len(ids) == 50
    _, headers = filed_envelope()
    assert headers["Nats-Msg-Id"] == headers["ce-id"]


def test_unwrap_returns_what_was_wrapped() -> None:
    env, headers = filed_envelope()
    event = unwrap(CASE_FILED, headers, env.body)
    assert (event.id, event.type, event.source, event.subject, event.case_id) == (
        env.id,
        "cityops.intake.v1.CaseFiled",
        "/cityops/intake",
        CASE_FILED,
        "C-1",
    )
    assert event.time == env.time and event.time.utcoffset() == timedelta(0)
    assert isinstance(event.message, intake_events.CaseFiled)
    assert event.message == filed()
    assert event.traceparent == TRACEPARENT
    assert event.headers == headers


def test_an_event_without_a_case_has_no_ce_subject() -> None:
    message = detection_events.DetectionReported(
        detection=detection_pb2.Detection(detection_id="det-1")
    )
    env = wrap(message, service="detection", subject=DETECTION_REPORTED)
    headers = env.headers()
    assert "ce-subject" not in headers and "traceparent" not in headers
    event = unwrap(DETECTION_REPORTED, headers, env.body)
    assert (event.case_id, event.traceparent) == ("", "")
    assert event.message == message


def test_a_ce_time_with_another_offset_is_the_same_instant() -> None:
    env, headers = filed_envelope(**{"ce-time": "2024-05-01T16:00:00+08:00"})
    event = unwrap(CASE_FILED, headers, env.body)
    assert event.time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("header", REQUIRED)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_a_required_header_missing_is_permanent(header: str, how: str) -> None:
    env, headers = filed_envelope()
    if how == "missing":
        del headers[header]
    else:
        headers[header] = ""
    with pytest.raises(PermanentError, match=f"missing CloudEvents headers: {header}$"):
        unwrap(CASE_FILED, headers, env.body)


def test_no_headers_at_all_is_permanent() -> None:
    with pytest.raises(PermanentError, match=", ".join(REQUIRED)):
        unwrap(CASE_FILED, None, filed().SerializeToString())


@pytest.mark.parametrize(
    "ce_time",
    [
        None,
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        # RFC 3339 requires an offset: naive times were once let through.
        "2024-05-01T08:00:00",
        "2024-05-01",
    ],
)
def test_a_bad_ce_time_is_permanent(ce_time: str | None) -> None:
    env, headers = filed_envelope()
    if ce_time is None:
        del headers["ce-time"]
    else:
        headers["ce-time"] = ce_time
    with pytest.raises(PermanentError, match="ce-time"):
        unwrap(CASE_FILED, headers, env.body)


def test_an_unknown_event_type_is_permanent() -> None:
    env, headers = filed_envelope(**{"ce-type": "cityops.billing.v1.InvoiceSent"})
    with pytest.raises(
        PermanentError, match=re.escape("unknown event type 'cityops.billing.v1.InvoiceSent'")
    ):
        unwrap(CASE_FILED, headers, env.body)


def test_an_undecodable_body_is_permanent() -> None:
    _, headers = filed_envelope()
    with pytest.raises(PermanentError, match=re.escape("undecodable cityops.intake.v1.CaseFiled")):
        unwrap(CASE_FILED, headers, b"\xff\xfe not protobuf")


@pytest.mark.parametrize(
    "message",
    [
        detection_events.DetectionReported(detection=detection_pb2.Detection(detection_id="d")),
        intake_events.CaseFiled(case=case_pb2.Case(case_id="C-1")),
        dispatch_events.CaseDispatched(case_id="C-1", department_id="D01"),
        workorder_events.WorkOrderCompleted(order_id="wo-1", case_id="C-1"),
        audit_events.CaseClosed(case_id="C-1", reason_code="resolved"),
    ],
)
def test_the_codec_knows_every_producers_events(message: Message) -> None:
    name = codec.type_name(message)
    assert name == message.DESCRIPTOR.full_name
    decoded = codec.decode(name, message.SerializeToString())
    assert type(decoded).DESCRIPTOR.full_name == name and decoded == message
