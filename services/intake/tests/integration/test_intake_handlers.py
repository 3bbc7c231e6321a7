"""Intake's handlers on a real SQLite unit of work (no NATS: the outbox shows what
would be published)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import events_pb2
from intake.adapters import tables  # noqa: F401  (registers the tables)
from intake.adapters.tables import CaseRow
from intake.domain.commands import FileByHand
from intake.domain.filing import Reference
from intake.domain.model import CaseQuery, CaseState
from intake.service_layer import handlers
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit import db
from svckit.errors import NotFoundError, PermanentError, PermissionDeniedError
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent, unwrap, wrap
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_FILED, DETECTION_REPORTED
from svckit.tables import OutboxMessage

OPERATOR = Caller(user_id="op-1", role="operator")


def uow(engine: AsyncEngine) -> IntakeUnitOfWork:
    return IntakeUnitOfWork(engine, "intake")


def event(message: Message, subject: str, service: str, case_id: str = "") -> IncomingEvent:
    env = wrap(message, service=service, subject=subject, case_id=case_id)
    return unwrap(subject, env.headers(), env.body)


def reported(
    point: tuple[float, float], detection_id: str = "det-1", code: str = "C0101"
) -> IncomingEvent:
    detection = detection_pb2.Detection(
        detection_id=detection_id,
        source_id="cam-7",
        category_code=code,
        urgency=common_pb2.URGENCY_IMMEDIATE,
        place=common_pb2.Place(point=common_pb2.GeoPoint(latitude=point[0], longitude=point[1])),
    )
    return event(
        detection_events.DetectionReported(detection=detection), DETECTION_REPORTED, "detection"
    )


async def deliver(
    engine: AsyncEngine, incoming: IncomingEvent, ref: Reference | None = None
) -> None:
    """What the pull worker does: the handler inside a transaction, then commit."""
    async with uow(engine) as work:
        if ref is not None:
            await handlers.on_detection_reported(incoming, work, ref=ref)
        else:
            await handlers.on_case_progress(incoming, work)
        await work.commit()


async def outbox(engine: AsyncEngine) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(OutboxMessage))).all())


async def cases(engine: AsyncEngine) -> list[CaseRow]:
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(CaseRow))).all())


async def test_a_detection_files_one_case_even_when_sent_again_as_a_new_event(
    sqlite_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    await deliver(sqlite_engine, reported(inside), ref)
    await deliver(sqlite_engine, reported(inside), ref)  # same detection, new ce-id
    [row] = await cases(sqlite_engine)
    assert row.state == "filed" and row.case_id.startswith("case-")
    assert row.title.startswith("上水井盖 · ") and row.district_code
    assert row.urgency == common_pb2.URGENCY_IMMEDIATE
    [sent] = await outbox(sqlite_engine)
    assert sent.subject == CASE_FILED and sent.case_id == row.case_id
    filed = events_pb2.CaseFiled.FromString(sent.body)
    assert filed.case.case_id == row.case_id and list(filed.case.detection_ids) == ["det-1"]


async def test_a_detection_of_an_unknown_category_is_dead_lettered(
    sqlite_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    with pytest.raises(PermanentError, match="unknown category"):
        await deliver(sqlite_engine, reported(inside, code="Z9999"), ref)
    assert await cases(sqlite_engine) == []


async def test_progress_moves_the_case_and_an_unknown_case_is_ignored(
    sqlite_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    await deliver(sqlite_engine, reported(inside), ref)
    [row] = await cases(sqlite_engine)
    at = Timestamp()
    at.FromDatetime(datetime(2024, 5, 1, 10, tzinfo=UTC))
    dispatched = dispatch_events.CaseDispatched(
        case_id=row.case_id, department_id="dept-water", dispatched_at=at, deadline=at
    )
    await deliver(sqlite_engine, event(dispatched, CASE_DISPATCHED, "dispatch", row.case_id))
    dispatched.case_id = "case-nobody-knows"
    await deliver(sqlite_engine, event(dispatched, CASE_DISPATCHED, "dispatch"))
    case = await handlers.get_case(row.case_id, uow(sqlite_engine))
    assert case.state is CaseState.DISPATCHED and case.lead_department_id == "dept-water"
    assert len(await cases(sqlite_engine)) == 1


async def test_create_case_twice_with_one_request_id_files_once(
    sqlite_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    cmd = FileByHand("req-1", "C0101", "", inside[0], inside[1], common_pb2.URGENCY_EXPECTED)
    first = await handlers.create_case(cmd, OPERATOR, uow(sqlite_engine), ref)
    again = await handlers.create_case(cmd, OPERATOR, uow(sqlite_engine), ref)
    assert again == first and first.case.state != 0
    assert len(await cases(sqlite_engine)) == 1 and len(await outbox(sqlite_engine)) == 1
    page = await handlers.list_cases(CaseQuery(), uow(sqlite_engine))
    assert [c.case_id for c in page.cases] == [first.case.case_id]
    assert page.cases[0].filed_by == "op-1"


async def test_create_case_refuses_a_department_user_and_get_case_unknown_is_not_found(
    sqlite_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    cmd = FileByHand("req-1", "C0101", "", inside[0], inside[1], 2)
    department = Caller(user_id="d-1", role="department_user", department_id="dept-water")
    with pytest.raises(PermissionDeniedError):
        await handlers.create_case(cmd, department, uow(sqlite_engine), ref)
    with pytest.raises(NotFoundError):
        await handlers.get_case("case-missing", uow(sqlite_engine))
    assert await cases(sqlite_engine) == [] and await outbox(sqlite_engine) == []
