"""Helpers for dispatch's tests: events as producers send them, a clock at a known moment."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from svckit.clock import new_id
from svckit.messaging.envelope import IncomingEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
IN_D01 = common_pb2.GeoPoint(latitude=31.235, longitude=121.544)
IN_D02 = common_pb2.GeoPoint(latitude=31.23, longitude=121.45)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def local(*args: int) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def filed_case(
    case_id: str,
    category: str,
    *,
    district: str = "D02",
    point: common_pb2.GeoPoint | None = IN_D02,
    urgency: common_pb2.Urgency.ValueType = common_pb2.URGENCY_EXPECTED,
) -> intake_events.CaseFiled:
    place = common_pb2.Place(district_code=district)
    if point is not None:
        place.point.CopyFrom(point)
    case = case_pb2.Case(
        case_id=case_id,
        category_code=category,
        title=f"{category} 测试案件",
        place=place,
        urgency=urgency,
        state=case_pb2.CASE_STATE_FILED,
    )
    return intake_events.CaseFiled(case=case)


def incoming(message: Message, subject: str, case_id: str = "") -> IncomingEvent:
    """An event as the pull worker hands it to a handler (its case id from the
    message, as producers set it, unless given)."""
    if not case_id:
        fields = message.DESCRIPTOR.fields_by_name
        if "case_id" in fields:
            case_id = message.case_id
        elif "case" in fields:
            case_id = message.case.case_id
    return IncomingEvent(
        id=new_id(),
        type=message.DESCRIPTOR.full_name,
        source="/cityops/test",
        subject=subject,
        case_id=case_id,
        time=datetime.now(UTC),
        message=message,
        headers={"traceparent": TRACEPARENT},
    )
