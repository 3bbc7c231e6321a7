"""The use cases on SQLite and PostgreSQL, driven by events and commands with a simulated clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as wo_events
from cityops.workorders.v1 import work_order_pb2
from dispatch.adapters.tables import CaseRow
from dispatch.domain import commands
from dispatch.domain.clock import SimulatedClock
from dispatch.domain.escalation import EscalationPolicy, TimerStatus
from dispatch.domain.model import AssignmentStatus, CaseState
from dispatch.domain.oversight import ArbitrationOutcome
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import (
    catalogue,
    clocks,
    handlers,
    queues,
    retiming,
    returns,
    routing,
)
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.timers import fire_due
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.dispatch.tests.dispatch_testing import (
    IN_D01,
    filed_case,
    incoming,
    local,
    stamp,
)
from svckit import db
from svckit.errors import FailedPreconditionError, PermanentError, PermissionDeniedError
from svckit.grpc.identity import Caller
from svckit.messaging.subjects import (
    CASE_ARBITRATION_REQUESTED,
    CASE_DISPATCHED,
    CASE_ESCALATED,
    CASE_FILED,
    CASE_REDISPATCHED,
    CASE_RESUMED,
    CASE_UNROUTABLE,
    EXTENSION_DECIDED,
)
from svckit.tables import OutboxMessage

MONDAY_10 = local(2026, 3, 2, 10, 0)
SUPERVISOR = Caller("sup-1", "supervisor")
OPERATOR = Caller("op-1", "operator")


class Flow:
    """A dispatch 'service' without NATS: handlers, a store and a clock."""

    def __init__(self, engine: AsyncEngine, ctx: DispatchContext) -> None:
        self.engine, self.ctx = engine, ctx
        self.clock: SimulatedClock = ctx.clock  # type: ignore[assignment]

    def uow(self) -> DispatchUnitOfWork:
        return DispatchUnitOfWork(self.engine, "dispatch")

    async def intake(self, message: Message, subject: str = CASE_FILED) -> None:
        """One event in its own batch, preloaded as the pull worker does."""
        await self.intake_batch((message, subject))

    async def intake_batch(self, *events: tuple[Message, str]) -> None:
        batch = [incoming(message, subject) for message, subject in events]
        async with self.uow() as uow:
            await handlers.prepare_batch(batch, uow)
            for event in batch:
                await handlers.on_intake_event(event, uow, ctx=self.ctx)
            await uow.commit()

    async def workorders(self, message: Message) -> None:
        event = incoming(message, "wo")
        async with self.uow() as uow:
            await handlers.prepare_batch([event], uow)
            await handlers.on_workorders_event(event, uow, ctx=self.ctx)
            await uow.commit()

    async def published(self) -> list[tuple[str, Message]]:
        from svckit.messaging import codec

        async with db.session_factory(self.engine)() as session:
            rows = (await session.exec(select(OutboxMessage))).all()
        ordered = sorted(rows, key=lambda r: r.position or 0)
        return [(r.subject, codec.decode(r.event_type, r.body)) for r in ordered]

    async def case(self, case_id: str) -> Any:
        async with self.uow() as uow:
            return await uow.cases.get(case_id), await uow.assignments.for_case(case_id)

    async def timers(self, case_id: str) -> list[Any]:
        async with self.uow() as uow:
            return await uow.timers.of(case_id=case_id)


@pytest.fixture
async def flow(db_engine: AsyncEngine, shipped_reference: ReferenceData) -> AsyncIterator[Flow]:
    ctx = DispatchContext(
        reference=shipped_reference,
        clock=SimulatedClock(MONDAY_10),
        policy=EscalationPolicy(0.75, timedelta(hours=2), 3),
        max_returns=3,
    )
    made = Flow(db_engine, ctx)
    await catalogue.seed_from_file(made.uow(), ctx)
    yield made


def returned(dispatched: dispatch_events.CaseDispatched, note: str = "不归我们管") -> Message:
    return wo_events.WorkOrderReturned(
        order_id=f"WO-{dispatched.dispatch_id}",
        case_id=dispatched.case_id,
        department_id=dispatched.department_id,
        dispatch_id=dispatched.dispatch_id,
        reason=work_order_pb2.RETURN_REASON_OUTSIDE_JURISDICTION,
        note=note,
    )


async def test_filed_case_is_dispatched_with_a_working_time_deadline(flow: Flow) -> None:
    await flow.intake(filed_case("C-1", "E0105"))
    ((subject, event),) = await flow.published()
    assert subject == CASE_DISPATCHED and isinstance(event, dispatch_events.CaseDispatched)
    assert (event.department_id, event.rule_id, event.rule_version) == (
        "D02-transport",
        "transport-default",
        "1",
    )
    assert (event.role, event.attempt, event.lead_department_id) == (
        dispatch_events.DISPATCH_ROLE_LEAD,
        1,
        "D02-transport",
    )
    assert event.place.street_code and event.place.grid_code  # located from the point
    # 24 working hours from Monday 10:00: Mon 6.5 + Tue 7.5 + Wed 7.5 + Thu 09:00–11:30.
    assert event.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 5, 11, 30)
    assert event.team_id == "D02-transport-road"  # round robin, first team
    timers = await flow.timers("C-1")
    assert [(t.kind.value, t.level) for t in timers] == [("warning", 1), ("breach", 1)]
    # The warning at 75 %, 18 working hours: Mon 6.5 + Tue 7.5 + Wed 09:00–12:00, 13:30–14:30.
    assert [t.fire_at for t in timers] == [local(2026, 3, 4, 14, 30), local(2026, 3, 5, 11, 30)]


async def test_the_same_case_filed_twice_is_dispatched_once(flow: Flow) -> None:
    await flow.intake(filed_case("C-1", "E0105"))
    await flow.intake(filed_case("C-1", "E0403"))
    assert len(await flow.published()) == 1


async def test_a_joint_case_dispatches_the_lead_and_each_assisting_department(flow: Flow) -> None:
    await flow.intake(filed_case("C-2", "E0401", district="D01", point=IN_D01))
    events = [e for _, e in await flow.published()]
    assert [(e.department_id, e.role) for e in events] == [  # type: ignore[attr-defined]
        ("D01-housing", dispatch_events.DISPATCH_ROLE_LEAD),
        ("D01-water", dispatch_events.DISPATCH_ROLE_ASSIST),
        ("D01-transport", dispatch_events.DISPATCH_ROLE_ASSIST),
    ]
    assert {e.case_id for e in events} == {"C-2"}  # type: ignore[attr-defined]
    assert len({e.dispatch_id for e in events}) == 3  # type: ignore[attr-defined]
    assert {e.lead_department_id for e in events} == {"D01-housing"}  # type: ignore[attr-defined]
    # The rule's 8 working hours: Monday 10:00 → Tuesday 10:30.
    assert events[0].deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 3, 10, 30)  # type: ignore[attr-defined]


async def test_gas_leaks_run_on_the_round_the_clock_calendar(flow: Flow) -> None:
    flow.clock.set(local(2026, 3, 7, 23, 30))  # Saturday night
    await flow.intake(filed_case("C-3", "E0403", district="D01", point=IN_D01))
    ((_, event),) = await flow.published()
    assert isinstance(event, dispatch_events.CaseDispatched)
    assert event.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 8, 0, 30)


async def test_unroutable_case_waits_for_manual_dispatch_with_a_dispatch_clock(flow: Flow) -> None:
    await flow.intake(filed_case("C-4", "E0105", district="", point=None))
    ((subject, event),) = await flow.published()
    assert subject == CASE_UNROUTABLE and event.reason == "the case's place has no district"  # type: ignore[attr-defined]
    timers = await flow.timers("C-4")
    assert {t.stage.value for t in timers} == {"dispatch"}
    queue = await queues.list_queue(pb.QUEUE_UNROUTABLE, flow.uow())
    assert [i.case_id for i in queue] == ["C-4"]

    cmd = commands.DispatchManually("r-1", "C-4", "D02-street_office", ("D02-transport",))
    with pytest.raises(PermissionDeniedError):
        await routing.dispatch_manually(
            cmd, Caller("u", "department_user", "D02-water"), flow.uow(), flow.ctx
        )
    response = await routing.dispatch_manually(cmd, OPERATOR, flow.uow(), flow.ctx)
    again = await routing.dispatch_manually(cmd, OPERATOR, flow.uow(), flow.ctx)
    assert again == response  # the retried request is answered, not applied twice
    assert [(a.department_id, a.rule_id) for a in response.assignments] == [
        ("D02-street_office", "manual"),
        ("D02-transport", "manual"),
    ]
    subjects = [s for s, _ in await flow.published()]
    assert subjects == [CASE_UNROUTABLE, CASE_DISPATCHED, CASE_DISPATCHED]
    assert {t.status for t in await flow.timers("C-4") if t.stage.value == "dispatch"} == {
        TimerStatus.CANCELLED
    }
    with pytest.raises(FailedPreconditionError):
        await routing.dispatch_manually(
            commands.DispatchManually("r-2", "C-4", "D02-water"), OPERATOR, flow.uow(), flow.ctx
        )


async def test_a_case_of_an_unknown_category_must_be_reclassified_first(flow: Flow) -> None:
    await flow.intake(filed_case("C-4b", "E9999"))
    ((subject, event),) = await flow.published()
    assert subject == CASE_UNROUTABLE and event.reason == "unknown category code 'E9999'"  # type: ignore[attr-defined]
    with pytest.raises(FailedPreconditionError, match="reclassify"):
        await routing.dispatch_manually(
            commands.DispatchManually("r-3", "C-4b", "D02-water"), OPERATOR, flow.uow(), flow.ctx
        )


async def test_returns_redispatch_by_fallback_then_go_to_arbitration(flow: Flow) -> None:
    await flow.intake(filed_case("C-5", "E0105"))
    ((_, first),) = await flow.published()
    assert isinstance(first, dispatch_events.CaseDispatched)
    flow.clock.advance(timedelta(hours=1))
    await flow.workorders(returned(first))
    _, redispatch = (await flow.published())[-1]
    assert isinstance(redispatch, dispatch_events.CaseRedispatched)
    second = redispatch.dispatch
    assert (second.department_id, second.attempt, second.rule_id) == (
        "D02-city_management",
        2,
        "transport-default",
    )
    assert (redispatch.previous_department_id, redispatch.previous_dispatch_id) == (
        "D02-transport",
        first.dispatch_id,
    )
    assert "outside_jurisdiction" in redispatch.reason

    await flow.workorders(returned(second))
    _, third_event = (await flow.published())[-1]
    assert isinstance(third_event, dispatch_events.CaseRedispatched)
    third = third_event.dispatch
    assert (third.department_id, third.attempt) == ("D02-street_office", 3)

    await flow.workorders(returned(third))
    subject, arbitration = (await flow.published())[-1]
    assert subject == CASE_ARBITRATION_REQUESTED
    assert isinstance(arbitration, dispatch_events.CaseArbitrationRequested)
    assert list(arbitration.returned_by_department_ids) == [
        "D02-transport",
        "D02-city_management",
        "D02-street_office",
    ]
    case, assignments = await flow.case("C-5")
    assert case.state is CaseState.ARBITRATION
    assert [a.status for a in assignments] == [AssignmentStatus.RETURNED] * 3
    # The first department held it one working hour before returning it.
    assert assignments[0].lost == timedelta(hours=1)
    assert all(t.status is not TimerStatus.PENDING for t in await flow.timers("C-5"))

    # A redelivered return of an ended dispatch changes nothing.
    count = len(await flow.published())
    await flow.workorders(returned(third))
    assert len(await flow.published()) == count

    cmd = commands.Arbitrate("a-1", "C-5", ArbitrationOutcome.TERRITORIAL, note="属地兜底")
    with pytest.raises(PermissionDeniedError):
        await returns.arbitrate(cmd, OPERATOR, flow.uow(), flow.ctx)
    decided = await returns.arbitrate(cmd, SUPERVISOR, flow.uow(), flow.ctx)
    assert decided.assignment.department_id == "D02-street_office"
    assert decided.assignment.attempt == 4 and decided.assignment.rule_id == "arbitration"
    lost = {t.department_id: t.hours for t in decided.lost_time}
    assert lost == {"D02-transport": 1.0, "D02-city_management": 0.0, "D02-street_office": 0.0}
    subject, final = (await flow.published())[-1]
    assert subject == CASE_REDISPATCHED and isinstance(final, dispatch_events.CaseRedispatched)
    assert final.previous_dispatch_id == third.dispatch_id and "territorial" in final.reason
    with pytest.raises(FailedPreconditionError):
        await returns.arbitrate(
            commands.Arbitrate("a-2", "C-5", ArbitrationOutcome.DEPARTMENT, "D02-water"),
            SUPERVISOR,
            flow.uow(),
            flow.ctx,
        )


async def test_an_assisting_share_returned_goes_to_the_next_department(flow: Flow) -> None:
    await flow.intake(filed_case("C-6", "E0401", district="D01", point=IN_D01))
    events = [e for _, e in await flow.published()]
    flow.clock.advance(timedelta(hours=2))
    await flow.workorders(returned(events[1]))  # type: ignore[arg-type]
    subject, event = (await flow.published())[-1]
    assert subject == CASE_REDISPATCHED and isinstance(event, dispatch_events.CaseRedispatched)
    share = event.dispatch
    assert (share.department_id, share.role, share.lead_department_id, share.attempt) == (
        "D01-street_office",  # 属地, the catalogue's fallback
        dispatch_events.DISPATCH_ROLE_ASSIST,
        "D01-housing",
        2,
    )
    assert event.previous_dispatch_id == events[1].dispatch_id  # type: ignore[attr-defined]
    # A fresh 处置 clock for the new department: 8 working hours from Monday 12:00
    # (Mon 13:30–18:00, Tue 09:00–12:00, 13:30–14:00).
    assert share.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 3, 14, 0)
    case, assignments = await flow.case("C-6")
    assert case.state is CaseState.DISPATCHED and case.returns == 0  # no step to arbitration
    assert [(a.department_id, a.status) for a in assignments] == [
        ("D01-housing", AssignmentStatus.ACTIVE),
        ("D01-water", AssignmentStatus.RETURNED),
        ("D01-transport", AssignmentStatus.ACTIVE),
        ("D01-street_office", AssignmentStatus.ACTIVE),
    ]
    pending = {t.dispatch_id for t in await flow.timers("C-6") if t.status is TimerStatus.PENDING}
    assert share.dispatch_id in pending and events[1].dispatch_id not in pending  # type: ignore[attr-defined]

    # The street office returns it too: nobody is left who is not involved, the lead carries on.
    count = len(await flow.published())
    await flow.workorders(returned(share))
    assert len(await flow.published()) == count
    case, assignments = await flow.case("C-6")
    assert case.state is CaseState.DISPATCHED and assignments[0].active


async def test_an_unknown_return_is_permanent(flow: Flow) -> None:
    with pytest.raises(PermanentError):
        await flow.workorders(
            wo_events.WorkOrderReturned(
                case_id="C-404", department_id="D01-gas", dispatch_id="nope"
            )
        )


async def test_an_approved_extension_moves_the_deadline_in_working_time(flow: Flow) -> None:
    await flow.intake(filed_case("C-7", "E0105"))
    ((_, event),) = await flow.published()
    assert isinstance(event, dispatch_events.CaseDispatched)
    await flow.workorders(
        wo_events.WorkOrderExtensionRequested(
            order_id="WO-7",
            case_id="C-7",
            department_id="D02-transport",
            dispatch_id=event.dispatch_id,
            extension_id="X-1",
            requested_hours=8,
            reason="等待材料",
        )
    )
    (item,) = await queues.list_queue(pb.QUEUE_EXTENSIONS, flow.uow())
    assert (item.extension_id, item.requested_hours) == ("X-1", 8.0)
    decided = await clocks.decide(
        commands.DecideExtension("d-1", "X-1", approve=True), SUPERVISOR, flow.uow(), flow.ctx
    )
    # Thursday 11:30 + 8 working hours: Thu 0.5 + 4.5, Friday 09:00–12:00.
    assert decided.new_deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 6, 12, 0)
    subject, message = (await flow.published())[-1]
    assert subject == EXTENSION_DECIDED and isinstance(message, dispatch_events.ExtensionDecided)
    assert message.approved and message.decided_by.user_id == "sup-1"
    pending = [t for t in await flow.timers("C-7") if t.status is TimerStatus.PENDING]
    assert [t.fire_at for t in pending if t.kind.value == "breach"] == [local(2026, 3, 6, 12, 0)]
    with pytest.raises(FailedPreconditionError):
        await clocks.decide(
            commands.DecideExtension("d-2", "X-1", approve=False), SUPERVISOR, flow.uow(), flow.ctx
        )


async def test_timers_fire_when_the_clock_passes_them_and_repeat_at_rising_levels(
    flow: Flow,
) -> None:
    await flow.intake(filed_case("C-8", "E0105"))
    uow = flow.uow
    assert await fire_due(uow, flow.ctx) == 0
    flow.clock.set(local(2026, 3, 4, 14, 29))
    assert await fire_due(uow, flow.ctx) == 0
    flow.clock.set(local(2026, 3, 4, 14, 30))  # 18 of 24 working hours
    assert await fire_due(uow, flow.ctx) == 1
    flow.clock.set(local(2026, 3, 5, 11, 30))
    assert await fire_due(uow, flow.ctx) == 1
    flow.clock.set(local(2026, 3, 6, 12, 0))  # a day late: levels 2 (Thu 15:00) and 3 (Thu 17:00)
    assert await fire_due(uow, flow.ctx) == 1
    assert await fire_due(uow, flow.ctx) == 1
    assert await fire_due(uow, flow.ctx) == 0  # max level reached
    escalations = [e for s, e in await flow.published() if s == CASE_ESCALATED]
    assert [(e.kind, e.level) for e in escalations] == [  # type: ignore[attr-defined]
        (dispatch_events.ESCALATION_KIND_WARNING, 1),
        (dispatch_events.ESCALATION_KIND_BREACH, 1),
        (dispatch_events.ESCALATION_KIND_BREACH, 2),
        (dispatch_events.ESCALATION_KIND_BREACH, 3),
    ]
    assert {e.stage for e in escalations} == {"disposal"}  # type: ignore[attr-defined]


async def test_completion_stops_the_clock_and_starts_verification(flow: Flow) -> None:
    await flow.intake(filed_case("C-9", "E0401", district="D01", point=IN_D01))
    lead = next(e for _, e in await flow.published())
    await flow.workorders(
        wo_events.WorkOrderCompleted(
            order_id="WO-9",
            case_id="C-9",
            department_id="D01-housing",
            dispatch_id=lead.dispatch_id,  # type: ignore[attr-defined]
            completed_at=stamp(local(2026, 3, 2, 15, 0)),
        )
    )
    case, _ = await flow.case("C-9")
    assert case.state is CaseState.COMPLETED
    assert case.verification_deadline == local(2026, 3, 3, 15, 30)  # 8 working hours
    pending = [t for t in await flow.timers("C-9") if t.status is TimerStatus.PENDING]
    assert {t.stage.value for t in pending} == {"verification"}


async def test_backlog_stops_every_clock_and_resuming_moves_the_deadlines(flow: Flow) -> None:
    await flow.intake(filed_case("C-10", "E0105"))  # deadline Thursday 11:30, warning Wed 14:30
    flow.clock.set(local(2026, 3, 3, 10, 0))  # Tuesday
    with pytest.raises(PermissionDeniedError):
        await clocks.backlog_case(
            commands.Backlog("b-1", "C-10", "x"), OPERATOR, flow.uow(), flow.ctx
        )
    await clocks.backlog_case(
        commands.Backlog("b-1", "C-10", "产权不明，暂无法处置"), SUPERVISOR, flow.uow(), flow.ctx
    )
    case, _ = await flow.case("C-10")
    assert case.state is CaseState.BACKLOGGED
    assert {t.status for t in await flow.timers("C-10")} == {TimerStatus.SUSPENDED}
    _subject, event = (await flow.published())[-1]
    assert (
        isinstance(event, dispatch_events.CaseBacklogged) and event.reason == "产权不明，暂无法处置"
    )
    flow.clock.set(local(2026, 3, 6, 17, 0))  # past the old deadline: nothing fires in 挂账
    assert await fire_due(flow.uow, flow.ctx) == 0

    flow.clock.set(local(2026, 3, 9, 10, 0))  # the next Monday: 30 working hours later
    resume = commands.Resume("r-1", "C-10", "产权已查明")
    with pytest.raises(PermissionDeniedError):
        await retiming.resume_case(resume, OPERATOR, flow.uow(), flow.ctx)
    resumed = await retiming.resume_case(resume, SUPERVISOR, flow.uow(), flow.ctx)
    published = len(await flow.published())
    flow.clock.advance(timedelta(minutes=5))
    again = await retiming.resume_case(resume, SUPERVISOR, flow.uow(), flow.ctx)
    assert again == resumed and len(await flow.published()) == published  # a retry, answered
    assert resumed.state == "dispatched" and resumed.resumed_at == stamp(local(2026, 3, 9, 10, 0))
    async with flow.uow() as uow:
        (suspension,) = await uow.suspensions.of_case("C-10")
    assert suspension.resumed_by == "sup-1" and suspension.note == "产权已查明"
    # 16.5 working hours were left on Tuesday 10:00; they run from Monday 10:00 again:
    # Mon 6.5 + Tue 7.5 + Wed 09:00–11:30.
    (lead,) = resumed.moved
    assert lead.deadline == stamp(local(2026, 3, 11, 11, 30)) and lead.status == "active"
    case, assignments = await flow.case("C-10")
    assert case.state is CaseState.DISPATCHED
    assert assignments[0].deadline == local(2026, 3, 11, 11, 30)
    subject, event = (await flow.published())[-1]
    assert subject == CASE_RESUMED and isinstance(event, dispatch_events.CaseResumed)
    assert event.state == "dispatched" and event.resumed_by.user_id == "sup-1"
    assert event.note == "产权已查明"
    assert event.suspended_hours == 30.0  # Tue 6.5 + Wed-Fri 3 × 7.5 + Mon 09:00–10:00
    assert [(m.dispatch_id, m.deadline) for m in event.moved] == [(lead.dispatch_id, lead.deadline)]
    timers = [t for t in await flow.timers("C-10") if t.status is TimerStatus.PENDING]
    assert [(t.kind.value, t.fire_at) for t in timers] == [
        ("warning", local(2026, 3, 10, 14, 30)),  # 10.5 h were left before the warning
        ("breach", local(2026, 3, 11, 11, 30)),
    ]
    flow.clock.set(local(2026, 3, 10, 14, 29))
    assert await fire_due(flow.uow, flow.ctx) == 0
    flow.clock.set(local(2026, 3, 10, 14, 30))
    assert await fire_due(flow.uow, flow.ctx) == 1
    with pytest.raises(FailedPreconditionError, match="only a backlogged"):
        await retiming.resume_case(commands.Resume("r-2", "C-10"), SUPERVISOR, flow.uow(), flow.ctx)


async def test_an_unroutable_case_resumes_into_the_manual_queue(flow: Flow) -> None:
    await flow.intake(filed_case("C-10b", "E0105", district="", point=None))
    (dispatch_timer,) = [t for t in await flow.timers("C-10b") if t.kind.value == "breach"]
    await clocks.backlog_case(
        commands.Backlog("b-2", "C-10b", "地址不详"), SUPERVISOR, flow.uow(), flow.ctx
    )
    assert await queues.list_queue(pb.QUEUE_UNROUTABLE, flow.uow()) == []
    flow.clock.advance(timedelta(days=7))  # a whole working week suspended
    resumed = await retiming.resume_case(
        commands.Resume("r-3", "C-10b"), SUPERVISOR, flow.uow(), flow.ctx
    )
    assert resumed.state == "unroutable" and len(resumed.moved) == 0
    _subject, event = (await flow.published())[-1]
    assert isinstance(event, dispatch_events.CaseResumed) and event.state == "unroutable"
    assert event.suspended_hours == 37.5 and len(event.moved) == 0
    (item,) = await queues.list_queue(pb.QUEUE_UNROUTABLE, flow.uow())
    assert item.reason == "the case's place has no district"
    (moved,) = [
        t
        for t in await flow.timers("C-10b")
        if t.kind.value == "breach" and t.status is TimerStatus.PENDING
    ]
    assert moved.fire_at == flow.ctx.calendar().add(dispatch_timer.fire_at, timedelta(hours=37.5))


async def test_closing_a_backlogged_case_cancels_its_suspended_timers(flow: Flow) -> None:
    from cityops.audit.v1 import events_pb2 as audit_events

    await flow.intake(filed_case("C-10c", "E0105"))
    await clocks.backlog_case(
        commands.Backlog("b-3", "C-10c", "长期无法解决"), SUPERVISOR, flow.uow(), flow.ctx
    )
    async with flow.uow() as uow:
        event = audit_events.CaseClosed(case_id="C-10c", reason_code="BACKLOGGED")
        await handlers.on_audit_event(incoming(event, "audit"), uow, ctx=flow.ctx)
        await uow.commit()
    assert {t.status for t in await flow.timers("C-10c")} == {TimerStatus.CANCELLED}
    with pytest.raises(FailedPreconditionError):
        await retiming.resume_case(
            commands.Resume("r-4", "C-10c"), SUPERVISOR, flow.uow(), flow.ctx
        )


async def test_reclassification_redispatches_to_the_new_lead(flow: Flow) -> None:
    await flow.intake(filed_case("C-11", "E0105"))
    ((_, first),) = await flow.published()
    reclassified = intake_events.CaseReclassified(
        case_id="C-11", old_category_code="E0105", new_category_code="E0402"
    )
    await flow.intake(reclassified, "cityops.intake.case.reclassified")
    subject, event = (await flow.published())[-1]
    assert subject == CASE_REDISPATCHED and isinstance(event, dispatch_events.CaseRedispatched)
    assert (event.dispatch.department_id, event.dispatch.category_code, event.dispatch.attempt) == (
        "D02-water",
        "E0402",
        2,
    )
    assert event.previous_dispatch_id == first.dispatch_id  # type: ignore[attr-defined]


async def test_round_robin_takes_turns(flow: Flow) -> None:
    for n in range(3):
        await flow.intake(filed_case(f"C-R{n}", "E0105"))
    teams = [e.team_id for _, e in await flow.published()]  # type: ignore[attr-defined]
    assert teams == ["D02-transport-road", "D02-transport-road2", "D02-transport-road"]


async def test_a_closed_case_cancels_its_timers(flow: Flow, db_engine: AsyncEngine) -> None:
    from cityops.audit.v1 import events_pb2 as audit_events

    await flow.intake(filed_case("C-12", "E0105"))
    async with flow.uow() as uow:
        await handlers.on_audit_event(
            incoming(audit_events.CaseClosed(case_id="C-12"), "audit"), uow, ctx=flow.ctx
        )
        await uow.commit()
    case, assignments = await flow.case("C-12")
    assert case.state is CaseState.CLOSED
    assert assignments[0].status is AssignmentStatus.SUPERSEDED
    assert all(t.status is TimerStatus.CANCELLED for t in await flow.timers("C-12"))
    async with db.session_factory(db_engine)() as session:
        assert len((await session.exec(select(CaseRow))).all()) == 1


def completed(dispatched: Message, at: datetime) -> Message:
    assert isinstance(dispatched, dispatch_events.CaseDispatched)
    return wo_events.WorkOrderCompleted(
        order_id=f"WO-{dispatched.dispatch_id}",
        case_id=dispatched.case_id,
        department_id=dispatched.department_id,
        dispatch_id=dispatched.dispatch_id,
        completed_at=stamp(at),
    )


def reopened(dispatched: Message, at: datetime) -> Message:
    assert isinstance(dispatched, dispatch_events.CaseDispatched)
    return wo_events.WorkOrderReopened(
        order_id=f"WO-{dispatched.dispatch_id}",
        case_id=dispatched.case_id,
        department_id=dispatched.department_id,
        dispatch_id=dispatched.dispatch_id,
        reopened_at=stamp(at),
        reason="核查未通过：仍有积水",
        rework_count=1,
    )


async def test_a_rework_restarts_the_disposal_clock_and_leaves_verification(flow: Flow) -> None:
    await flow.intake(filed_case("C-13", "E0401", district="D01", point=IN_D01))
    lead, water, transport = [e for _, e in await flow.published()]
    await flow.workorders(completed(water, local(2026, 3, 2, 14, 0)))
    await flow.workorders(completed(lead, local(2026, 3, 2, 15, 0)))
    case, _ = await flow.case("C-13")
    assert case.state is CaseState.COMPLETED and case.verification_deadline is not None

    flow.clock.set(local(2026, 3, 3, 10, 0))
    await flow.workorders(reopened(lead, local(2026, 3, 3, 10, 0)))
    await flow.workorders(reopened(water, local(2026, 3, 3, 10, 0)))
    case, assignments = await flow.case("C-13")
    assert case.state is CaseState.DISPATCHED and case.verification_deadline is None
    assert all(a.active for a in assignments)
    # The rule's whole 8 working hours again from Tuesday 10:00: Tue 6.5 + Wed 09:00–10:30.
    assert [a.deadline for a in assignments] == [
        local(2026, 3, 4, 10, 30),
        local(2026, 3, 4, 10, 30),
        local(2026, 3, 3, 10, 30),  # transport never completed: its own deadline stands
    ]
    pending = [t for t in await flow.timers("C-13") if t.status is TimerStatus.PENDING]
    assert {t.stage.value for t in pending} == {"disposal"}
    by_share = {
        d: sorted((t.kind.value, t.fire_at) for t in pending if t.dispatch_id == d)
        for d in {t.dispatch_id for t in pending}
    }
    assert by_share[lead.dispatch_id] == [  # type: ignore[attr-defined]
        ("breach", local(2026, 3, 4, 10, 30)),
        ("warning", local(2026, 3, 3, 17, 30)),  # 6 of 8 hours
    ]
    # The assisting share the lead's completion had stopped is watched again.
    assert [k for k, _ in by_share[transport.dispatch_id]] == ["breach", "warning"]  # type: ignore[attr-defined]

    # A rework for a share that is not completed changes nothing.
    count = len(await flow.timers("C-13"))
    await flow.workorders(reopened(transport, local(2026, 3, 3, 11, 0)))
    assert len(await flow.timers("C-13")) == count


async def test_a_case_filed_and_changed_in_one_batch_is_one_case_with_the_change(
    flow: Flow,
) -> None:
    """The batch's cases are preloaded (this one: not there yet); the filing
    adds it and the next event of the same batch must find it, changed."""
    filed = filed_case("C-15", "E0401", district="D01", point=IN_D01)
    changed = intake_events.CaseUrgencyChanged(
        case_id="C-15",
        old_urgency=common_pb2.URGENCY_EXPECTED,
        new_urgency=common_pb2.URGENCY_IMMEDIATE,
    )
    await flow.intake_batch(
        (filed, CASE_FILED),
        (filed, CASE_FILED),  # the same filing again under another message id
        (changed, "cityops.intake.case.urgency_changed"),
    )
    case, assignments = await flow.case("C-15")
    assert case.urgency == "immediate"
    assert assignments and {a.deadline for a in assignments} == {local(2026, 3, 2, 15, 30)}
    dispatched = [e for s, e in await flow.published() if s == CASE_DISPATCHED]
    assert len(dispatched) == len(assignments) == 3  # lead + two assists, dispatched once


async def test_a_new_urgency_retimes_every_running_share(flow: Flow) -> None:
    await flow.intake(filed_case("C-14", "E0401", district="D01", point=IN_D01))
    events = [e for _, e in await flow.published()]
    changed = intake_events.CaseUrgencyChanged(
        case_id="C-14",
        old_urgency=common_pb2.URGENCY_EXPECTED,
        new_urgency=common_pb2.URGENCY_IMMEDIATE,
    )
    await flow.intake(changed, "cityops.intake.case.urgency_changed")
    case, assignments = await flow.case("C-14")
    assert case.urgency == "immediate"
    # The rule gives immediate cases 4 working hours instead of 8: Monday 10:00 → 15:30.
    assert {a.deadline for a in assignments} == {local(2026, 3, 2, 15, 30)}
    pending = [t for t in await flow.timers("C-14") if t.status is TimerStatus.PENDING]
    assert sorted({(t.kind.value, t.fire_at) for t in pending}) == [
        ("breach", local(2026, 3, 2, 15, 30)),
        ("warning", local(2026, 3, 2, 14, 30)),
    ]
    assert len(pending) == 2 * len(events)

    flow.clock.set(local(2026, 3, 2, 14, 45))
    assert await fire_due(flow.uow, flow.ctx) == 3  # each share's warning
    back = intake_events.CaseUrgencyChanged(case_id="C-14", new_urgency=common_pb2.URGENCY_EXPECTED)
    await flow.intake(back, "cityops.intake.case.urgency_changed")
    _, assignments = await flow.case("C-14")
    assert {a.deadline for a in assignments} == {local(2026, 3, 3, 10, 30)}
    pending = [t for t in await flow.timers("C-14") if t.status is TimerStatus.PENDING]
    # The warnings fired stay fired: only the breach is still to come, at the new deadline.
    assert {(t.kind.value, t.level, t.fire_at) for t in pending} == {
        ("breach", 1, local(2026, 3, 3, 10, 30))
    }


async def test_a_new_urgency_retimes_the_manual_dispatch_clock(flow: Flow) -> None:
    await flow.intake(filed_case("C-15", "E0105", district="", point=None))
    changed = intake_events.CaseUrgencyChanged(
        case_id="C-15", new_urgency=common_pb2.URGENCY_IMMEDIATE
    )
    await flow.intake(changed, "cityops.intake.case.urgency_changed")
    pending = [t for t in await flow.timers("C-15") if t.status is TimerStatus.PENDING]
    # 派遣 within half a working hour instead of one.
    assert {t.deadline for t in pending} == {local(2026, 3, 2, 10, 30)}
    # An urgency change for a case dispatch never saw (still in triage) is nothing to do.
    await flow.intake(
        intake_events.CaseUrgencyChanged(
            case_id="C-unknown", new_urgency=common_pb2.URGENCY_IMMEDIATE
        ),
        "cityops.intake.case.urgency_changed",
    )


async def test_a_new_urgency_retimes_the_verification_clock(flow: Flow) -> None:
    await flow.intake(filed_case("C-16", "E0105"))
    ((_, lead),) = await flow.published()
    await flow.workorders(completed(lead, local(2026, 3, 2, 15, 0)))
    case, _ = await flow.case("C-16")
    assert case.verification_deadline == local(2026, 3, 3, 15, 30)  # 8 working hours
    changed = intake_events.CaseUrgencyChanged(
        case_id="C-16", new_urgency=common_pb2.URGENCY_IMMEDIATE
    )
    await flow.intake(changed, "cityops.intake.case.urgency_changed")
    case, _ = await flow.case("C-16")
    # 4 working hours for an immediate case: Monday 15:00 → Tuesday 10:00.
    assert case.verification_deadline == local(2026, 3, 3, 10, 0)
    pending = [t for t in await flow.timers("C-16") if t.status is TimerStatus.PENDING]
    assert {(t.stage.value, t.kind.value, t.fire_at) for t in pending} == {
        ("verification", "warning", local(2026, 3, 2, 18, 0)),  # 3 of 4 hours
        ("verification", "breach", local(2026, 3, 3, 10, 0)),
    }


async def test_work_orders_completed_in_one_batch_each_complete_their_case(flow: Flow) -> None:
    """The batch's assignments are read ahead by dispatch id (one for no dispatch);
    each completion still finds its own and starts its case's 核查 clock."""
    await flow.intake_batch(
        (filed_case("C-21", "E0105"), CASE_FILED), (filed_case("C-22", "E0105"), CASE_FILED)
    )
    first, second = [e for _, e in await flow.published()]
    unknown = wo_events.WorkOrderCompleted(
        order_id="WO-X", case_id="C-21", department_id="D02-transport", dispatch_id="D-none"
    )
    batch = [
        incoming(message, "wo")
        for message in (
            completed(first, local(2026, 3, 2, 15, 0)),
            unknown,
            completed(second, local(2026, 3, 2, 16, 0)),
        )
    ]
    async with flow.uow() as uow:
        await handlers.prepare_batch(batch, uow)
        for event in batch:
            await handlers.on_workorders_event(event, uow, ctx=flow.ctx)
        await uow.commit()
    for case_id in ("C-21", "C-22"):
        case, (lead,) = await flow.case(case_id)
        assert case.state is CaseState.COMPLETED and lead.status is AssignmentStatus.COMPLETED
        pending = [t for t in await flow.timers(case_id) if t.status is TimerStatus.PENDING]
        assert {t.stage.value for t in pending} == {"verification"}
