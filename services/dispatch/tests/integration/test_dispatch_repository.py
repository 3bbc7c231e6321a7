"""Decisions on a real SQLite file: round trip, one per case, and one transaction with the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from dispatch.adapters.tables import DispatchDecisionRow
from dispatch.domain.model import DispatchRecord, Outcome
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import handlers
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit import db
from svckit.clock import new_id, utcnow
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED
from svckit.tables import OutboxMessage


def record(case_id: str, **fields: Any) -> DispatchRecord:
    decided = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    base = DispatchRecord(
        dispatch_id=new_id(),
        case_id=case_id,
        category_code="E0105",
        district_code="D02",
        outcome=Outcome.DISPATCHED,
        decided_at=decided,
        department_id="D02-transport",
        rule_id="transport-default",
        rule_version="2026.1",
        handling_hours=24,
        deadline=decided + timedelta(hours=24),
        origin_traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    return replace(base, **fields)


async def test_a_decision_round_trips_with_aware_times(sqlite_engine: AsyncEngine) -> None:
    stored = record("C-1")
    unroutable = record(
        "C-2",
        outcome=Outcome.UNROUTABLE,
        department_id="",
        rule_id="",
        rule_version="",
        handling_hours=0,
        deadline=None,
        reason="no rule",
    )
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        uow.decisions.add(stored)
        uow.decisions.add(unroutable)
        await uow.commit()
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        assert await uow.decisions.for_case("C-1") == stored
        assert await uow.decisions.for_case("C-2") == unroutable
        assert await uow.decisions.for_case("C-3") is None


async def test_a_case_has_at_most_one_decision(sqlite_engine: AsyncEngine) -> None:
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        uow.decisions.add(record("C-1"))
        await uow.commit()
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        uow.decisions.add(record("C-1", department_id="D02-street_office"))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_without_commit_nothing_is_kept(sqlite_engine: AsyncEngine) -> None:
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        uow.decisions.add(record("C-1"))
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        assert await uow.decisions.for_case("C-1") is None


async def test_handler_writes_decision_and_event_in_one_transaction(
    sqlite_engine: AsyncEngine, shipped_reference: ReferenceData
) -> None:
    case = case_pb2.Case(
        case_id="C-9",
        category_code="E0403",
        place=common_pb2.Place(district_code="D01"),
        title="燃气泄漏",
    )
    event = IncomingEvent(
        id="evt-1",
        type="cityops.intake.v1.CaseFiled",
        source="/cityops/intake",
        subject="cityops.intake.case.filed",
        case_id="C-9",
        time=utcnow(),
        message=intake_events.CaseFiled(case=case),
        headers={},
    )
    async with DispatchUnitOfWork(sqlite_engine, "dispatch") as uow:
        await handlers.on_case_filed(event, uow, reference=shipped_reference)
        await uow.commit()
    async with db.session_factory(sqlite_engine)() as session:
        rows = (await session.exec(select(DispatchDecisionRow))).all()
        outbox = (await session.exec(select(OutboxMessage))).all()
    assert [(r.case_id, r.department_id, r.handling_hours) for r in rows] == [("C-9", "D01-gas", 1)]
    assert [(o.subject, o.case_id) for o in outbox] == [(CASE_DISPATCHED, "C-9")]
