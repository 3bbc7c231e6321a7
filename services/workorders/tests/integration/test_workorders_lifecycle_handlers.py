"""Handlers on SQLite and PostgreSQL: re-dispatch, 督办, 延期, 返工 and the
department's return / progress / extension, with their outbox rows, webhook
rows and idempotent retries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2, work_order_pb2
from svckit import db
from svckit.clock import utcnow
from svckit.errors import FailedPreconditionError, PermanentError
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent
from svckit.tables import OutboxMessage
from workorders.domain import commands
from workorders.domain.model import Evidence, OrderRole, OrderState, ReturnReason, WorkOrder
from workorders.domain.notifications import (
    WebhookDirectory,
    WebhookEndpoint,
)
from workorders.service_layer import actions, handlers
from workorders.service_layer.ports import EvidenceRules, Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

WATER = Caller("u-water", "department_user", "water")
NOTIFIER = Notifier(
    WebhookDirectory({"water": WebhookEndpoint("water", "http://127.0.0.1:9/hook", "x" * 16)})
)
DEADLINE = datetime(2030, 1, 1, tzinfo=UTC)
EXTERNAL = Evidence("https://evidence.example/after.jpg", "e" * 64, "image/jpeg", 10)


def uow_of(engine: AsyncEngine) -> WorkOrdersUnitOfWork:
    return WorkOrdersUnitOfWork(engine, "workorders")


def stamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def incoming(msg: Message, case_id: str, event_id: str = "") -> IncomingEvent:
    return IncomingEvent(
        id=event_id or f"E-{id(msg)}",
        type=msg.DESCRIPTOR.full_name,
        source="/cityops/dispatch",
        subject="",
        case_id=case_id,
        time=utcnow(),
        message=msg,
        headers={},
    )


def dispatched(
    dispatch_id: str, department: str = "water", *, case_id: str = "C-1", attempt: int = 1
) -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(
        case_id=case_id,
        dispatch_id=dispatch_id,
        department_id=department,
        category_code="E0105",
        title="Leak",
        deadline=stamp(DEADLINE),
        attempt=attempt,
        role=dispatch_events.DISPATCH_ROLE_LEAD,
    )


async def deliver(
    engine: AsyncEngine, msg: Message, case_id: str = "C-1", event_id: str = ""
) -> None:
    """As the pull worker does: the handler in a transaction it commits."""
    async with uow_of(engine) as uow:
        event = incoming(msg, case_id, event_id)
        if isinstance(msg, audit_events.CaseRework):
            await handlers.on_audit_event(event, uow, NOTIFIER)
        else:
            await handlers.on_dispatch_event(event, uow, NOTIFIER)
        await uow.commit()


async def orders(engine: AsyncEngine, case_id: str = "C-1") -> list[WorkOrder]:
    async with uow_of(engine) as uow:
        return await uow.orders.find(department_id=None, case_id=case_id, limit=50)


async def outbox(engine: AsyncEngine, event_type: str) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.event_type == event_type)
            .order_by(col(OutboxMessage.position))
        )
        return list((await session.exec(query)).all())


async def webhooks(engine: AsyncEngine) -> list[str]:
    async with uow_of(engine) as uow:
        return [f"{d.kind.value}:{d.order_id}" for d in await uow.deliveries.find()]


async def accepted_order(engine: AsyncEngine) -> WorkOrder:
    await deliver(engine, dispatched("D-1"))
    [order] = await orders(engine)
    await actions.accept_work_order(
        commands.AcceptWorkOrder("a-1", order.order_id), WATER, uow_of(engine)
    )
    return order


async def test_a_return_then_a_redispatch_makes_a_new_order_and_keeps_the_return(
    db_engine: AsyncEngine,
) -> None:
    first = await accepted_order(db_engine)
    ret = commands.ReturnWorkOrder("r-1", first.order_id, ReturnReason.WRONG_CATEGORY, "水务以外")
    response = await actions.return_work_order(ret, WATER, uow_of(db_engine))
    assert await actions.return_work_order(ret, WATER, uow_of(db_engine)) == response
    [returned] = await outbox(db_engine, "cityops.workorders.v1.WorkOrderReturned")
    event = events_pb2.WorkOrderReturned.FromString(returned.body)
    assert (event.dispatch_id, event.note, event.actor.user_id) == ("D-1", "水务以外", "u-water")

    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatched("D-2", "roads", attempt=2),
        previous_department_id="water",
        previous_dispatch_id="D-1",
        reason="returned: wrong category",
    )
    await deliver(db_engine, redispatch)
    await deliver(db_engine, redispatch, event_id="E-again")  # redelivered under a new id
    old, new = await orders(db_engine)
    assert (old.order_id, old.state) == (first.order_id, OrderState.RETURNED)
    assert (new.department_id, new.attempt, new.dispatch_id, new.state) == (
        "roads",
        2,
        "D-2",
        OrderState.CREATED,
    )
    assert len(await outbox(db_engine, "cityops.workorders.v1.WorkOrderCreated")) == 2


async def test_a_redispatch_away_from_a_live_order_cancels_and_announces_it(
    db_engine: AsyncEngine,
) -> None:
    first = await accepted_order(db_engine)
    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatched("D-2", "roads", attempt=2),
        previous_department_id="water",
        reason="arbitration",
    )
    await deliver(db_engine, redispatch)
    await deliver(db_engine, redispatch, event_id="E-again")  # redelivered under a new id
    old, new = await orders(db_engine)
    assert (old.order_id, old.state, old.cancel_reason) == (
        first.order_id,
        OrderState.CANCELLED,
        "arbitration",
    )
    assert new.state is OrderState.CREATED
    [row] = await outbox(db_engine, "cityops.workorders.v1.WorkOrderCancelled")
    assert (row.subject, row.case_id) == ("cityops.workorders.workorder.cancelled", "C-1")
    event = events_pb2.WorkOrderCancelled.FromString(row.body)
    assert (event.order_id, event.case_id, event.department_id, event.dispatch_id) == (
        first.order_id,
        "C-1",
        "water",
        "D-1",
    )
    assert (event.reason, event.previous_state, event.superseded_by_dispatch_id) == (
        "arbitration",
        work_order_pb2.WORK_ORDER_STATE_ACCEPTED,
        "D-2",
    )
    assert event.role == work_order_pb2.ORDER_ROLE_LEAD
    assert event.cancelled_at.ToDatetime(tzinfo=UTC) == old.cancelled_at
    with pytest.raises(FailedPreconditionError, match="cancelled"):
        await actions.report_progress(
            commands.ReportProgress("p-1", first.order_id, "still here"),
            WATER,
            uow_of(db_engine),
        )


async def test_one_order_per_case_department_role_and_attempt(db_engine: AsyncEngine) -> None:
    await deliver(db_engine, dispatched("D-1"))
    await deliver(db_engine, dispatched("D-1b"))  # same key, another dispatch id
    assist = dispatched("D-3")
    assist.role = dispatch_events.DISPATCH_ROLE_ASSIST
    await deliver(db_engine, assist)
    found = await orders(db_engine)
    assert [(o.dispatch_id, o.role) for o in found] == [
        ("D-1", OrderRole.LEAD),
        ("D-3", OrderRole.ASSIST),
    ]


async def test_escalation_shows_the_highest_level_and_notifies_each_rise(
    db_engine: AsyncEngine,
) -> None:
    await deliver(db_engine, dispatched("D-1"))
    await deliver(db_engine, dispatched("D-9", "roads", case_id="C-9"), "C-9")
    for level in (1, 2, 1):
        await deliver(
            db_engine,
            dispatch_events.CaseEscalated(
                case_id="C-1",
                dispatch_id="D-1",
                department_id="water",
                kind=dispatch_events.ESCALATION_KIND_WARNING,
                level=level,
                stage="disposal",
            ),
        )
    [order] = await orders(db_engine)
    assert order.escalation_level == 2 and order.escalated_at is not None
    # water has a webhook, roads has none: one row per new order and per rise.
    assert await webhooks(db_engine) == [
        f"workorder.created:{order.order_id}",
        f"workorder.escalated:{order.order_id}",
        f"workorder.escalated:{order.order_id}",
    ]


async def test_an_extension_waits_for_dispatch_and_resumes_where_it_was(
    db_engine: AsyncEngine,
) -> None:
    order = await accepted_order(db_engine)
    uow = uow_of(db_engine)
    await actions.report_progress(commands.ReportProgress("p-1", order.order_id, "dug"), WATER, uow)
    ask = commands.RequestExtension("x-1", order.order_id, 48, "pipe parts on order")
    first = await actions.request_extension(ask, WATER, uow_of(db_engine))
    assert await actions.request_extension(ask, WATER, uow_of(db_engine)) == first
    ext_id = first.work_order.pending_extension.extension_id
    [row] = await outbox(db_engine, "cityops.workorders.v1.WorkOrderExtensionRequested")
    requested = events_pb2.WorkOrderExtensionRequested.FromString(row.body)
    assert (requested.extension_id, requested.requested_hours) == (ext_id, 48)
    with pytest.raises(FailedPreconditionError, match="extension_requested"):
        await actions.report_progress(
            commands.ReportProgress("p-2", order.order_id, "more"), WATER, uow_of(db_engine)
        )

    new_deadline = DEADLINE + timedelta(days=2)
    decision = dispatch_events.ExtensionDecided(
        case_id="C-1",
        order_id=order.order_id,
        extension_id=ext_id,
        approved=True,
        new_deadline=stamp(new_deadline),
    )
    await deliver(db_engine, decision)
    [after] = await orders(db_engine)
    assert (after.state, after.deadline, after.extension) == (
        OrderState.IN_PROGRESS,
        new_deadline,
        None,
    )
    await deliver(db_engine, decision, event_id="E-stale")  # stale: skipped, no error
    assert (await orders(db_engine))[0].state is OrderState.IN_PROGRESS
    unknown = dispatch_events.ExtensionDecided(order_id="WO-nope", extension_id="EXT-1")
    with pytest.raises(PermanentError):
        await deliver(db_engine, unknown)


async def test_resuming_from_backlog_moves_the_live_orders_deadlines_by_dispatch(
    db_engine: AsyncEngine,
) -> None:
    first = await accepted_order(db_engine)
    redispatch = dispatch_events.CaseRedispatched(
        dispatch=dispatched("D-2", "roads", attempt=2), previous_dispatch_id="D-1"
    )
    await deliver(db_engine, redispatch)
    await deliver(db_engine, dispatched("D-3", "gas"))  # a live order the resume omits
    later = DEADLINE + timedelta(days=3)
    resumed = dispatch_events.CaseResumed(case_id="C-1", state="dispatched", suspended_hours=22.5)
    for dispatch_id in ("D-1", "D-2", "D-404"):
        resumed.moved.add(dispatch_id=dispatch_id, department_id="x", deadline=stamp(later))
    await deliver(db_engine, resumed)
    await deliver(db_engine, resumed, event_id="E-again")  # redelivered: the same deadlines
    by_dispatch = {o.dispatch_id: o for o in await orders(db_engine)}
    assert (by_dispatch["D-1"].order_id, by_dispatch["D-1"].state) == (
        first.order_id,
        OrderState.CANCELLED,
    )
    assert by_dispatch["D-1"].deadline == DEADLINE  # a cancelled order keeps its deadline
    assert (by_dispatch["D-2"].state, by_dispatch["D-2"].deadline) == (OrderState.CREATED, later)
    assert by_dispatch["D-3"].deadline == DEADLINE


async def test_a_rework_reopens_completed_orders_which_work_again(
    db_engine: AsyncEngine, evidence_rules_factory: Callable[..., EvidenceRules]
) -> None:
    order = await accepted_order(db_engine)
    rules = evidence_rules_factory()
    external = commands.CompleteWorkOrder("c-1", order.order_id, "fixed", (EXTERNAL,))
    await actions.complete_work_order(external, WATER, uow_of(db_engine), rules)
    rework = audit_events.CaseRework(case_id="C-1", verification_id="V-1", note="still leaking")
    await deliver(db_engine, rework)
    [reopened] = await orders(db_engine)
    assert (reopened.state, reopened.rework_count, reopened.reopen_reason) == (
        OrderState.REOPENED,
        1,
        "still leaking",
    )
    [row] = await outbox(db_engine, "cityops.workorders.v1.WorkOrderReopened")
    event = events_pb2.WorkOrderReopened.FromString(row.body)
    assert (event.order_id, event.verification_id, event.rework_count) == (
        order.order_id,
        "V-1",
        1,
    )
    assert f"workorder.reopened:{order.order_id}" in await webhooks(db_engine)
    # REOPENED behaves like ACCEPTED: progress, then complete again.
    await actions.report_progress(
        commands.ReportProgress("p-1", order.order_id, "redone"), WATER, uow_of(db_engine)
    )
    again = commands.CompleteWorkOrder("c-2", order.order_id, "fixed again", (EXTERNAL,))
    done = await actions.complete_work_order(again, WATER, uow_of(db_engine), rules)
    assert done.work_order.rework_count == 1
    # A rework for a case without completed orders changes nothing.
    await deliver(db_engine, audit_events.CaseRework(case_id="C-404", verification_id="V-2"))
    assert len(await outbox(db_engine, "cityops.workorders.v1.WorkOrderReopened")) == 1


async def test_illegal_department_actions_change_nothing(db_engine: AsyncEngine) -> None:
    await deliver(db_engine, dispatched("D-1"))
    [order] = await orders(db_engine)
    uow = uow_of(db_engine)
    refused = [
        actions.report_progress(commands.ReportProgress("p", order.order_id, "n"), WATER, uow),
        actions.request_extension(
            commands.RequestExtension("x", order.order_id, 4, "r"), WATER, uow
        ),
    ]
    for call in refused:
        with pytest.raises(FailedPreconditionError, match="created"):
            await call
    [after] = await orders(db_engine)
    assert after == order
    assert await outbox(db_engine, "cityops.workorders.v1.WorkOrderProgressed") == []


async def test_every_department_action_replays_its_first_response_by_request_id(
    db_engine: AsyncEngine, evidence_rules_factory: Callable[..., EvidenceRules]
) -> None:
    order = await accepted_order(db_engine)
    rules = evidence_rules_factory()
    oid = order.order_id
    steps = [
        (
            "WorkOrderProgressed",
            lambda: actions.report_progress(
                commands.ReportProgress("p-1", oid, "dug"), WATER, uow_of(db_engine)
            ),
        ),
        (
            "WorkOrderCompleted",
            lambda: actions.complete_work_order(
                commands.CompleteWorkOrder("c-1", oid, "fixed", (EXTERNAL,)),
                WATER,
                uow_of(db_engine),
                rules,
            ),
        ),
    ]
    for event_type, call in steps:
        first = await call()
        assert await call() == first  # the retry: same response …
        rows = await outbox(db_engine, f"cityops.workorders.v1.{event_type}")
        assert len(rows) == 1  # … and nothing published twice
    [after] = await orders(db_engine)
    assert after.state is OrderState.COMPLETED
