"""Handlers with no I/O: deciding filed cases (fake unit of work) and who-would-receive."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.message import Message

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from dispatch.domain import commands
from dispatch.domain.model import DispatchRecord, Outcome
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import handlers
from svckit.clock import utcnow
from svckit.errors import InvalidArgumentError, NotFoundError, PermanentError
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_UNROUTABLE

IN_D02 = (31.23, 121.45)


@dataclass
class FakeDecisions:
    rows: dict[str, DispatchRecord] = field(default_factory=dict)

    def add(self, record: DispatchRecord) -> None:
        self.rows[record.case_id] = record

    async def for_case(self, case_id: str) -> DispatchRecord | None:
        return self.rows.get(case_id)


@dataclass
class FakeUnitOfWork:
    decisions: FakeDecisions = field(default_factory=FakeDecisions)
    published: list[tuple[str, str, Message]] = field(default_factory=list)

    def publish(self, message: Message, *, subject: str, case_id: str = "") -> str:
        self.published.append((subject, case_id, message))
        return "m"


def filed(
    case_id: str, category: str, *, district: str = "D02", point: bool = True
) -> IncomingEvent:
    place = common_pb2.Place(district_code=district)
    if point:
        place.point.CopyFrom(common_pb2.GeoPoint(latitude=IN_D02[0], longitude=IN_D02[1]))
    case = case_pb2.Case(
        case_id=case_id,
        category_code=category,
        title="路面坑洞",
        place=place,
        urgency=common_pb2.URGENCY_EXPECTED,
    )
    return IncomingEvent(
        id=f"evt-{case_id}",
        type="cityops.intake.v1.CaseFiled",
        source="/cityops/intake",
        subject="cityops.intake.case.filed",
        case_id=case_id,
        time=utcnow(),
        message=intake_events.CaseFiled(case=case),
        headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )


async def handle(event: IncomingEvent, uow: FakeUnitOfWork, reference: ReferenceData) -> None:
    fake: Any = uow  # the handler needs only decisions and publish
    await handlers.on_case_filed(event, fake, reference=reference)


async def test_filed_case_is_dispatched_with_deadline(shipped_reference: ReferenceData) -> None:
    uow = FakeUnitOfWork()
    before = utcnow()
    await handle(filed("C-1", "E0105"), uow, shipped_reference)
    ((subject, case_id, message),) = uow.published
    assert (subject, case_id) == (CASE_DISPATCHED, "C-1")
    assert isinstance(message, dispatch_events.CaseDispatched)
    assert (message.department_id, message.rule_id, message.rule_version) == (
        "D02-transport",
        "transport-default",
        "2026.1",
    )
    assert message.title == "路面坑洞" and message.urgency == common_pb2.URGENCY_EXPECTED
    dispatched = message.dispatched_at.ToDatetime(tzinfo=UTC)
    assert before <= dispatched <= utcnow()
    assert message.deadline.ToDatetime(tzinfo=UTC) - dispatched == timedelta(hours=24)
    record = uow.decisions.rows["C-1"]
    assert record.outcome is Outcome.DISPATCHED and record.dispatch_id == message.dispatch_id
    assert record.origin_traceparent.startswith("00-0af7651916cd43dd")


async def test_a_case_is_decided_once(shipped_reference: ReferenceData) -> None:
    uow = FakeUnitOfWork()
    await handle(filed("C-1", "E0105"), uow, shipped_reference)
    await handle(filed("C-1", "E0403"), uow, shipped_reference)
    assert len(uow.published) == 1
    assert uow.decisions.rows["C-1"].category_code == "E0105"


async def test_missing_district_is_located_from_the_point(shipped_reference: ReferenceData) -> None:
    uow = FakeUnitOfWork()
    await handle(filed("C-2", "E0403", district=""), uow, shipped_reference)
    ((_, _, message),) = uow.published
    assert isinstance(message, dispatch_events.CaseDispatched)
    assert message.department_id == "D02-gas" and message.place.district_code == "D02"


@pytest.mark.parametrize(
    ("category", "district", "point", "reason"),
    [
        ("E9999", "D02", True, "unknown category code 'E9999'"),
        ("E0105", "D42", True, "unknown district code 'D42'"),
        ("E0105", "", False, "the case's place has no district"),
    ],
)
async def test_cases_that_cannot_be_routed_are_published_unroutable(
    shipped_reference: ReferenceData, category: str, district: str, point: bool, reason: str
) -> None:
    uow = FakeUnitOfWork()
    await handle(filed("C-3", category, district=district, point=point), uow, shipped_reference)
    ((subject, case_id, message),) = uow.published
    assert (subject, case_id) == (CASE_UNROUTABLE, "C-3")
    assert isinstance(message, dispatch_events.CaseUnroutable)
    assert message.reason == reason and message.category_code == category
    assert uow.decisions.rows["C-3"].outcome is Outcome.UNROUTABLE


async def test_an_event_that_is_not_a_filed_case_is_permanent(
    shipped_reference: ReferenceData,
) -> None:
    event = filed("C-4", "E0105")
    wrong = replace(event, message=case_pb2.Case(case_id="C-4"))
    with pytest.raises(PermanentError):
        await handle(wrong, FakeUnitOfWork(), shipped_reference)


def test_who_would_receive_answers_with_the_district(shipped_reference: ReferenceData) -> None:
    query = commands.WhoWouldReceive("E0105", *IN_D02, datetime(2026, 1, 1, tzinfo=UTC))
    answer = handlers.who_would_receive(query, shipped_reference)
    assert answer.district_code == "D02"
    assert answer.decision.department_id == "D02-transport"


@pytest.mark.parametrize(
    ("category", "lat", "lon", "error", "message"),
    [
        ("E9999", *IN_D02, InvalidArgumentError, "unknown category"),
        ("E0105", 39.9, 116.4, InvalidArgumentError, "outside Sample City"),
        ("E0105", math.nan, 121.45, InvalidArgumentError, "finite"),
    ],
)
def test_who_would_receive_refuses_wrong_questions(
    shipped_reference: ReferenceData,
    category: str,
    lat: float,
    lon: float,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        handlers.who_would_receive(commands.WhoWouldReceive(category, lat, lon), shipped_reference)


def test_who_would_receive_before_any_rule_is_not_found(shipped_reference: ReferenceData) -> None:
    query = commands.WhoWouldReceive("E0105", *IN_D02, datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(NotFoundError, match="no responsibility rule covers E0105 in D02"):
        handlers.who_would_receive(query, shipped_reference)
