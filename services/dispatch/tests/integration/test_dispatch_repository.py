"""The stores on SQLite and PostgreSQL: round trips with aware times, one case row per case,
nothing kept without commit, and a decision with its outbox row in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from dispatch.adapters.tables import AssignmentRow, CaseRow
from dispatch.domain.areas import Place
from dispatch.domain.clock import SimulatedClock
from dispatch.domain.escalation import EscalationKind, Timer, TimerStatus
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role
from dispatch.domain.oversight import (
    Arbitration,
    ArbitrationOutcome,
    Extension,
    Pending,
    Suspension,
)
from dispatch.domain.reference import ReferenceData
from dispatch.domain.stages import Stage
from dispatch.service_layer import catalogue, handlers
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.dispatch.tests.dispatch_testing import filed_case, incoming, local
from svckit import db
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_FILED
from svckit.tables import OutboxMessage
from svckit.testing.statements import listening

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@contextmanager
def recorded_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement sent to the database inside the block, whitespace folded."""
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()))

    with listening(engine, before_cursor_execute=record):
        yield statements


def a_case(case_id: str) -> CaseFile:
    return CaseFile(
        case_id=case_id,
        category_code="E0105",
        place=Place("D02", "D02S01", "D02S01G01", (31.23, 121.45)),
        title="路面坑洞",
        urgency="immediate",
        state=CaseState.DISPATCHED,
        received_at=AT,
        updated_at=AT,
        attempt=2,
        returns=1,
        returned_by=["D02-transport"],
        origin_traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        verification_deadline=AT + timedelta(hours=3),
    )


def an_assignment(dispatch_id: str, case_id: str = "C-1", **fields: object) -> Assignment:
    made = Assignment(
        dispatch_id=dispatch_id,
        case_id=case_id,
        department_id="D02-transport",
        role=Role.LEAD,
        attempt=1,
        rule_id="transport-default",
        rule_version="1",
        dispatched_at=AT,
        deadline=AT + timedelta(hours=24),
        lead_department_id="D02-transport",
        team_id="D02-transport-road",
        lost=timedelta(minutes=90),
    )
    for key, value in fields.items():
        setattr(made, key, value)
    return made


async def test_every_record_round_trips_with_aware_times(db_engine: AsyncEngine) -> None:
    case = a_case("C-1")
    lead, assist = an_assignment("D-1"), an_assignment("D-2", role=Role.ASSIST, order=1)
    timer = Timer(
        "T-1", "C-1", "D-1", "D02-transport", Stage.DISPOSAL, EscalationKind.BREACH, 2, AT, AT, AT
    )
    extension = Extension(
        "X-1", "C-1", "D-1", "WO-1", "D02-transport", timedelta(hours=8), "等待", AT
    )
    arbitration = Arbitration(
        "ARB-1",
        "C-1",
        AT,
        "returned 3 times",
        ["D02-transport"],
        Pending.DECIDED,
        ArbitrationOutcome.TERRITORIAL,
        "D02-street_office",
        "sup",
        AT,
        "属地",
        {"D02-transport": timedelta(hours=1.5)},
    )
    suspended = Suspension(
        "SUS-1", "C-1", CaseState.UNROUTABLE, "产权不明", AT, "sup", from_reason="no district"
    )
    resumed = Suspension(
        "SUS-0", "C-1", CaseState.DISPATCHED, "等待", AT - timedelta(days=9), "sup", "", AT, "sup2"
    )
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        await uow.cases.save(case)
        await uow.assignments.save(lead)
        await uow.assignments.save(assist)
        await uow.timers.save(timer)
        await uow.extensions.save(extension)
        await uow.arbitrations.save(arbitration)
        await uow.suspensions.save(suspended)
        await uow.suspensions.save(resumed)
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.cases.get("C-1") == case
        assert await uow.assignments.for_case("C-1") == [lead, assist]
        assert await uow.timers.of(case_id="C-1") == [timer]
        assert await uow.extensions.get("X-1") == extension
        assert await uow.arbitrations.pending_for("C-1") is None  # decided
        assert await uow.suspensions.open_for("C-1") == suspended
        assert await uow.suspensions.of_case("C-1") == [resumed, suspended]
        assert await uow.cases.get("C-404") is None
        assert await uow.assignments.last_team("D02-transport") == "D02-transport-road"
        assert await uow.assignments.team_loads("D02-transport") == {"D02-transport-road": 2}


async def test_claiming_takes_only_due_pending_timers(db_engine: AsyncEngine) -> None:
    def timer(timer_id: str, fire_at: datetime, status: TimerStatus) -> Timer:
        return Timer(
            timer_id,
            "C-1",
            "D-1",
            "",
            Stage.DISPOSAL,
            EscalationKind.BREACH,
            1,
            fire_at,
            AT,
            AT,
            status,
        )

    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        await uow.timers.save(timer("due", AT, TimerStatus.PENDING))
        await uow.timers.save(timer("later", AT + timedelta(hours=1), TimerStatus.PENDING))
        await uow.timers.save(timer("fired", AT, TimerStatus.FIRED))
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert [t.timer_id for t in await uow.timers.claim_due(AT, 10)] == ["due"]
        assert await uow.timers.cancel(case_id="C-1") == 2
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.timers.claim_due(AT + timedelta(days=1), 10) == []


async def test_without_commit_nothing_is_kept(db_engine: AsyncEngine) -> None:
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        await uow.cases.save(a_case("C-1"))
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.cases.get("C-1") is None


async def test_a_dispatch_id_is_recorded_once(db_engine: AsyncEngine) -> None:
    async with db.session_factory(db_engine)() as session:
        for _ in range(2):
            session.add(
                AssignmentRow(
                    dispatch_id="D-1",
                    case_id="C-1",
                    department_id="x",
                    role="lead",
                    attempt=1,
                    dispatched_at=AT,
                    deadline=AT,
                    status=AssignmentStatus.ACTIVE.value,
                )
            )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_handler_writes_case_assignment_timers_and_event_in_one_transaction(
    db_engine: AsyncEngine, shipped_reference: ReferenceData
) -> None:
    ctx = DispatchContext(
        reference=shipped_reference, clock=SimulatedClock(local(2026, 3, 2, 10, 0))
    )
    await catalogue.seed_from_file(DispatchUnitOfWork(db_engine, "dispatch"), ctx)
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        await handlers.on_intake_event(
            incoming(filed_case("C-9", "E0403", district="D01", point=None), CASE_FILED),
            uow,
            ctx=ctx,
        )
        await uow.commit()
    async with db.session_factory(db_engine)() as session:
        cases = (await session.exec(select(CaseRow))).all()
        rows = (await session.exec(select(AssignmentRow))).all()
        outbox = (await session.exec(select(OutboxMessage))).all()
    assert [(c.case_id, c.state) for c in cases] == [("C-9", "dispatched")]
    assert [(r.case_id, r.department_id, r.rule_id) for r in rows] == [
        ("C-9", "D01-gas", "gas-leak-emergency")
    ]
    assert [(o.subject, o.case_id) for o in outbox] == [(CASE_DISPATCHED, "C-9")]


async def test_the_file_is_imported_once_and_changes_become_new_versions(
    db_engine: AsyncEngine, shipped_reference: ReferenceData
) -> None:
    clock = SimulatedClock(local(2026, 3, 2, 10, 0))
    ctx = DispatchContext(reference=shipped_reference, clock=clock)
    uow = lambda: DispatchUnitOfWork(db_engine, "dispatch")  # noqa: E731
    assert await catalogue.seed_from_file(uow(), ctx) == 12
    assert await catalogue.seed_from_file(uow(), ctx) == 0
    async with uow() as session:
        history = await session.rules.all()
    first = {v.rule_id: v for v in history}
    assert first["D02-bike-parking-2026"].rule.effective_from.isoformat() == "2026-01-01"
    assert {v.source for v in history} == {"yaml:2026.2"}


def a_timer(timer_id: str, dispatch_id: str = "D-1", **fields: object) -> Timer:
    made = Timer(
        timer_id,
        "C-1",
        dispatch_id,
        "D02-transport",
        Stage.DISPOSAL,
        EscalationKind.WARNING,
        1,
        AT + timedelta(hours=1),
        AT,
        AT + timedelta(hours=2),
    )
    for key, value in fields.items():
        setattr(made, key, value)
    return made


async def test_rows_added_in_a_transaction_are_read_changed_and_cancelled_before_commit(
    db_engine: AsyncEngine,
) -> None:
    """New cases, assignments and timers wait in memory until a query or the commit
    writes them: every read in the transaction still sees them as last saved."""
    case = a_case("C-1")
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        uow.cases.add(case)
        uow.assignments.add(an_assignment("D-1"))
        uow.timers.add(a_timer("T-1"))
        uow.timers.add(a_timer("T-2", dispatch_id="D-2"))
        case.state, case.attempt = CaseState.COMPLETED, 3
        await uow.cases.save(case)
        assert await uow.cases.get("C-1") == case
        assert await uow.assignments.get("D-1") == an_assignment("D-1")
        assert await uow.assignments.team_loads("D02-transport") == {"D02-transport-road": 1}
        assert await uow.assignments.last_team("D02-transport") == "D02-transport-road"
        assert await uow.timers.cancel(case_id="C-1", dispatch_id="D-1") == 1
        uow.assignments.add(an_assignment("D-3", team_id="D02-transport-road2"))
        assert [a.dispatch_id for a in await uow.assignments.for_case("C-1")] == ["D-1", "D-3"]
        statuses = {t.timer_id: t.status for t in await uow.timers.of(case_id="C-1")}
        assert statuses == {"T-1": TimerStatus.CANCELLED, "T-2": TimerStatus.PENDING}
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.cases.get("C-1") == case
        assert [a.team_id for a in await uow.assignments.for_case("C-1")] == [
            "D02-transport-road",
            "D02-transport-road2",
        ]
        statuses = {t.timer_id: t.status for t in await uow.timers.of(case_id="C-1")}
        assert statuses == {"T-1": TimerStatus.CANCELLED, "T-2": TimerStatus.PENDING}


async def test_the_latest_team_and_loads_count_stored_and_new_rows(db_engine: AsyncEngine) -> None:
    later = AT + timedelta(minutes=5)
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        uow.assignments.add(an_assignment("D-1", team_id="road"))
        uow.assignments.add(an_assignment("D-2", team_id="road2", dispatched_at=later))
        uow.assignments.add(
            an_assignment("D-3", team_id="road2", status=AssignmentStatus.COMPLETED)
        )
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.assignments.last_team("D02-transport") == "road2"
        uow.assignments.add(an_assignment("D-4", team_id="road", dispatched_at=later))
        # The same moment as the stored D-2: the ids decide, as the database orders them.
        assert await uow.assignments.last_team("D02-transport") == "road"
        uow.assignments.add(
            an_assignment("D-5", team_id="road3", dispatched_at=later + AT.resolution)
        )
        assert await uow.assignments.last_team("D02-transport") == "road3"
        assert await uow.assignments.team_loads("D02-transport") == {
            "road": 2,
            "road2": 1,
            "road3": 1,
        }


async def test_cancelling_changes_loaded_timers_and_keeps_unwritten_changes(
    db_engine: AsyncEngine,
) -> None:
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        for timer_id in ("T-1", "T-2", "T-3"):
            uow.timers.add(a_timer(timer_id))
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        first = {t.timer_id: t for t in await uow.timers.of(case_id="C-1")}["T-1"]
        first.status = TimerStatus.FIRED
        await uow.timers.save(first)  # not written yet when the cancel runs
        assert await uow.timers.cancel(case_id="C-1") == 2
        statuses = {t.timer_id: t.status for t in await uow.timers.of(case_id="C-1")}
        assert statuses == {
            "T-1": TimerStatus.FIRED,
            "T-2": TimerStatus.CANCELLED,
            "T-3": TimerStatus.CANCELLED,
        }
        assert await uow.timers.suspend(case_id="C-1") == 0
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        statuses = {t.timer_id: t.status for t in await uow.timers.of(case_id="C-1")}
        assert statuses["T-1"] is TimerStatus.FIRED and statuses["T-2"] is TimerStatus.CANCELLED


async def test_stored_rows_saved_in_a_transaction_are_seen_and_written_back_once(
    db_engine: AsyncEngine,
) -> None:
    """A stored row saved changes in memory: the transaction's reads and team
    measures see the change, and the commit writes each table's changed rows
    back in one UPDATE. Saving a row the transaction never read updates the
    stored one, or adds it when there is none (as the ORM's merge did)."""
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        uow.cases.add(a_case("C-1"))
        uow.assignments.add(an_assignment("D-1", team_id="road"))
        uow.assignments.add(an_assignment("D-2", team_id="road"))
        await uow.commit()
    with recorded_statements(db_engine) as statements:
        async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
            for dispatch_id in ("D-1", "D-2"):
                share = await uow.assignments.get(dispatch_id)
                assert share is not None
                share.end(AssignmentStatus.COMPLETED, AT, "completed")
                await uow.assignments.save(share)
            assert await uow.assignments.team_loads("D02-transport") == {}
            assert {a.status for a in await uow.assignments.for_case("C-1")} == {
                AssignmentStatus.COMPLETED
            }
            closed = a_case("C-1")
            closed.state = CaseState.CLOSED
            await uow.cases.save(closed)  # never read in this transaction
            await uow.cases.save(a_case("C-2"))  # never stored
            assert await uow.cases.get("C-1") == closed
            await uow.commit()
    writes = [s.split(" SET")[0].split(" (")[0] for s in statements]
    writes = [w for w in writes if w.startswith(("INSERT INTO dispatch_", "UPDATE dispatch_"))]
    assert sorted(writes) == [
        "INSERT INTO dispatch_case",
        "UPDATE dispatch_assignment",
        "UPDATE dispatch_case",
    ]
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.cases.get("C-1") == closed
        assert await uow.cases.get("C-2") == a_case("C-2")
        shares = await uow.assignments.for_case("C-1")
        assert [(a.status, a.ended_at) for a in shares] == [(AssignmentStatus.COMPLETED, AT)] * 2


async def test_a_failed_savepoint_forgets_the_rows_added_inside_it(db_engine: AsyncEngine) -> None:
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        uow.cases.add(a_case("C-1"))
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.cases.add(a_case("C-2"))
                uow.timers.add(a_timer("T-1"))
                raise RuntimeError("this item fails alone")
        assert await uow.cases.get("C-2") is None
        await uow.commit()
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        assert await uow.cases.get("C-1") == a_case("C-1")
        assert await uow.cases.get("C-2") is None
        assert await uow.timers.of(case_id="C-1") == []


async def test_a_batch_of_filed_cases_inserts_each_table_once(
    db_engine: AsyncEngine, shipped_reference: ReferenceData
) -> None:
    """The batch's new rows go in one executemany per table at commit (not an
    ORM flush before every query), and a new case saved again is not updated."""
    ctx = DispatchContext(
        reference=shipped_reference, clock=SimulatedClock(local(2026, 3, 2, 10, 0))
    )
    await catalogue.seed_from_file(DispatchUnitOfWork(db_engine, "dispatch"), ctx)
    with recorded_statements(db_engine) as statements:
        batch = [
            incoming(filed_case(f"C-{n}", "E0403", district="D01", point=None), CASE_FILED)
            for n in range(3)
        ]
        async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
            await handlers.prepare_batch(batch, uow)
            for filed in batch:
                await handlers.on_intake_event(filed, uow, ctx=ctx)
            await uow.commit()
    writes = [s.split(" (")[0] for s in statements if s.startswith(("INSERT", "UPDATE"))]
    assert sorted(w for w in writes if "dispatch_" in w) == [
        "INSERT INTO dispatch_assignment",
        "INSERT INTO dispatch_case",
        "INSERT INTO dispatch_timer",
    ]
    async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
        for n in range(3):
            case = await uow.cases.get(f"C-{n}")
            assert case is not None and case.state is CaseState.DISPATCHED
            assert len(await uow.assignments.for_case(f"C-{n}")) == 1
            assert len(await uow.timers.of(case_id=f"C-{n}")) == 2
