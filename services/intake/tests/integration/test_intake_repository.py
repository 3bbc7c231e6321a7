"""The case repository on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.adapters import tables  # noqa: F401  (registers the tables)
from intake.domain.model import Case, CaseQuery, CaseState, FilingSource, Place
from intake.service_layer.unit_of_work import IntakeUnitOfWork

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def a_case(n: int, state: CaseState = CaseState.FILED, detections: int = 1) -> Case:
    return Case(
        case_id=f"case-{n:03d}",
        category_code="C0101",
        title=f"case {n}",
        place=Place(31.2, 121.5, "D01", "D01S01", "D01S01G01"),
        urgency=2,
        state=state,
        filed_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n),
        source=FilingSource.DETECTION,
        trace_id="f" * 32,
        origin_traceparent=f"00-{'f' * 32}-{'a' * 16}-01",
        detection_ids=[f"det-{n}-{i}" for i in range(detections)],
    )


async def test_a_case_round_trips_with_aware_times_and_its_detections(
    sqlite_engine: AsyncEngine,
) -> None:
    case = a_case(1, detections=2)
    case.deadline = T0 + timedelta(hours=4)
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        await uow.cases.add(case, linked_at=T0)
        await uow.commit()
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        stored = await uow.cases.get(case.case_id)
        assert await uow.cases.case_for_detection("det-1-1") == case.case_id
        assert await uow.cases.case_for_detection("det-unknown") is None
    assert stored == case
    assert stored.deadline is not None and stored.deadline.tzinfo is not None


async def test_a_detection_cannot_be_linked_to_two_cases(sqlite_engine: AsyncEngine) -> None:
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        await uow.cases.add(a_case(1), linked_at=T0)
        await uow.commit()
    second = a_case(2)
    second.detection_ids = ["det-1-0"]
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        with pytest.raises(IntegrityError):
            await uow.cases.add(second, linked_at=T0)


async def test_update_writes_the_new_state(sqlite_engine: AsyncEngine) -> None:
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        await uow.cases.add(a_case(1), linked_at=T0)
        await uow.commit()
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        case = await uow.cases.get("case-001")
        assert case is not None
        case.state, case.lead_department_id = CaseState.DISPATCHED, "dept-water"
        case.state_at = T0 + timedelta(hours=1)
        await uow.cases.update(case)
        await uow.commit()
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        assert await uow.cases.get("case-001") == case


async def test_pages_are_newest_first_filtered_and_counted(sqlite_engine: AsyncEngine) -> None:
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        for n in range(1, 8):
            state = CaseState.CLOSED if n % 3 == 0 else CaseState.FILED
            await uow.cases.add(a_case(n, state), linked_at=T0)
        await uow.commit()
    async with IntakeUnitOfWork(sqlite_engine, "intake") as uow:
        first = await uow.cases.page(CaseQuery(limit=3))
        last = await uow.cases.page(CaseQuery(offset=6, limit=3))
        closed = await uow.cases.page(CaseQuery(states=(CaseState.CLOSED,)))
        open_ = await uow.cases.page(CaseQuery(states=(CaseState.FILED, CaseState.DISPATCHED)))
    assert [c.case_id for c in first.cases] == ["case-007", "case-006", "case-005"]
    assert (first.total, first.next_offset) == (7, 3)
    assert [c.case_id for c in last.cases] == ["case-001"] and last.next_offset is None
    assert [c.case_id for c in closed.cases] == ["case-006", "case-003"] and closed.total == 2
    assert open_.total == 5
    assert first.cases[0].detection_ids == ["det-7-0"]
