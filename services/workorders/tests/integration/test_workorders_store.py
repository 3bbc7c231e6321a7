"""Repository and handlers on SQLite and PostgreSQL: one order per dispatch,
department scoping in queries, idempotent actions with outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2
from svckit import db
from svckit.clock import utcnow
from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED, WORKORDER_ACCEPTED, WORKORDER_CREATED
from svckit.tables import OutboxMessage
from workorders.domain import commands
from workorders.domain.model import Evidence, OrderState, Place, WorkOrder
from workorders.domain.notifications import WebhookDirectory
from workorders.service_layer import actions, handlers
from workorders.service_layer.ports import Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

WATER = Caller("u-water", "department_user", "water")
ROADS = Caller("u-roads", "department_user", "roads")
NO_WEBHOOKS = Notifier(WebhookDirectory({}))
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def uow_of(engine: AsyncEngine) -> WorkOrdersUnitOfWork:
    return WorkOrdersUnitOfWork(engine, "workorders")


def dispatch_event(
    dispatch_id: str, department: str = "water", event_id: str = ""
) -> IncomingEvent:
    msg = dispatch_events.CaseDispatched(
        case_id=f"C-{dispatch_id}", dispatch_id=dispatch_id, department_id=department, title="Leak"
    )
    return IncomingEvent(
        id=event_id or f"E-{dispatch_id}",
        type=msg.DESCRIPTOR.full_name,
        source="/cityops/dispatch",
        subject=CASE_DISPATCHED,
        case_id=msg.case_id,
        time=utcnow(),
        message=msg,
        headers={"traceparent": TRACEPARENT},
    )


async def outbox(engine: AsyncEngine, subject: str) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.subject == subject)
                .order_by(col(OutboxMessage.position))
            )
        ).all()
        return list(rows)


async def test_repository_round_trips_an_order_and_scopes_queries(
    db_engine: AsyncEngine,
) -> None:
    now = utcnow()
    orders = [
        WorkOrder(
            "WO-1",
            "D-1",
            "C-1",
            "water",
            OrderState.CREATED,
            "E01",
            "a",
            Place(1.0, 2.0, "d", "s", "g"),
            now,
            deadline=now + timedelta(days=1),
            evidence=(Evidence("s3://x", "f" * 64, "image/png", 3),),
        ),
        WorkOrder(
            "WO-2",
            "D-2",
            "C-2",
            "water",
            OrderState.ACCEPTED,
            "E01",
            "b",
            None,
            now + timedelta(seconds=1),
        ),
        WorkOrder(
            "WO-3",
            "D-3",
            "C-1",
            "roads",
            OrderState.CREATED,
            "E02",
            "c",
            None,
            now + timedelta(seconds=2),
        ),
    ]
    async with uow_of(db_engine) as uow:
        for o in orders:
            uow.orders.add(o)
        await uow.commit()
    async with uow_of(db_engine) as uow:
        assert await uow.orders.get("WO-1") == orders[0]
        assert await uow.orders.get_by_dispatch("D-2") == orders[1]
        assert await uow.orders.get("nope") is None
        water = await uow.orders.find(department_id="water", limit=10)
        assert [o.order_id for o in water] == ["WO-1", "WO-2"]
        everyone = await uow.orders.find(department_id=None, limit=10)
        assert [o.order_id for o in everyone] == ["WO-1", "WO-2", "WO-3"]
        created = await uow.orders.find(department_id=None, states=[OrderState.CREATED], limit=10)
        assert [o.order_id for o in created] == ["WO-1", "WO-3"]
        case_1 = await uow.orders.find(department_id=None, case_id="C-1", limit=1)
        assert [o.order_id for o in case_1] == ["WO-1"]
        loaded = await uow.orders.get("WO-1", for_update=True)
        assert loaded is not None
        loaded.accept(WATER, datetime(2025, 1, 1, tzinfo=UTC))
        await uow.orders.save(loaded)
        await uow.commit()
    async with uow_of(db_engine) as uow:
        again = await uow.orders.get("WO-1")
        assert again is not None and again.state is OrderState.ACCEPTED
        assert again.accepted_at == datetime(2025, 1, 1, tzinfo=UTC)


async def test_orders_wait_for_the_commit_and_the_transaction_reads_its_own(
    db_engine: AsyncEngine,
) -> None:
    now = utcnow()
    stored = WorkOrder("WO-1", "D-1", "C-1", "water", OrderState.CREATED, "E01", "a", None, now)
    async with uow_of(db_engine) as uow:
        uow.orders.add(stored)
        await uow.commit()
    fresh = WorkOrder(
        "WO-2", "D-2", "C-2", "water", OrderState.CREATED, "E01", "b", None, now, attempt=1
    )
    async with uow_of(db_engine) as uow:
        uow.orders.add(fresh)
        changed = await uow.orders.get("WO-1", for_update=True)
        assert changed is not None
        changed.accept(WATER, now)
        await uow.orders.save(changed)
        # Found before they are written: by id, by dispatch, by key; a stored
        # row that changed here is answered in its changed version.
        assert await uow.orders.get("WO-2") == fresh
        assert await uow.orders.get_by_dispatch("D-2") == fresh
        assert await uow.orders.get_by_key("C-2", "water", fresh.role, 1) == fresh
        by_dispatch = await uow.orders.get_by_dispatch("D-1")
        assert by_dispatch is not None and by_dispatch.state is OrderState.ACCEPTED
        # A listing writes what waits first.
        accepted = await uow.orders.find(
            department_id="water", states=[OrderState.ACCEPTED], limit=10
        )
        assert [o.order_id for o in accepted] == ["WO-1"]
        with pytest.raises(LookupError):
            await uow.orders.save(
                WorkOrder("WO-9", "D-9", "C-9", "water", OrderState.CREATED, "E01", "", None, now)
            )
        await uow.commit()
    async with uow_of(db_engine) as uow:
        assert await uow.orders.get("WO-2") == fresh
        again = await uow.orders.get("WO-1")
        assert again is not None and again.state is OrderState.ACCEPTED
    async with uow_of(db_engine) as uow:
        uow.orders.add(
            WorkOrder("WO-3", "D-3", "C-3", "water", OrderState.CREATED, "E01", "c", None, now)
        )
        # left without commit
    async with uow_of(db_engine) as uow:
        assert await uow.orders.get("WO-3") is None


async def test_a_dispatch_redelivered_in_the_same_batch_or_later_makes_one_order(
    db_engine: AsyncEngine,
) -> None:
    async with uow_of(db_engine) as uow:
        await handlers.on_dispatch_event(dispatch_event("D-1"), uow, NO_WEBHOOKS)
        # Same dispatch republished under a new event id, in the same batch transaction.
        await handlers.on_dispatch_event(
            dispatch_event("D-1", event_id="E-other"), uow, NO_WEBHOOKS
        )
        await uow.commit()
    async with uow_of(db_engine) as uow:
        await handlers.on_dispatch_event(
            dispatch_event("D-1", event_id="E-third"), uow, NO_WEBHOOKS
        )
        await uow.commit()
    async with uow_of(db_engine) as uow:
        orders = await uow.orders.find(department_id=None, limit=10)
    assert len(orders) == 1
    assert orders[0].case_traceparent == TRACEPARENT and orders[0].state is OrderState.CREATED
    created = await outbox(db_engine, WORKORDER_CREATED)
    assert len(created) == 1 and created[0].case_id == "C-D-1"
    assert (
        events_pb2.WorkOrderCreated.FromString(created[0].body).work_order.order_id
        == orders[0].order_id
    )


async def test_accept_is_idempotent_by_request_id_and_guarded(db_engine: AsyncEngine) -> None:
    async with uow_of(db_engine) as uow:
        await handlers.on_dispatch_event(dispatch_event("D-1"), uow, NO_WEBHOOKS)
        await uow.commit()
    async with uow_of(db_engine) as uow:
        [order] = await uow.orders.find(department_id="water", limit=1)
    accept = commands.AcceptWorkOrder(request_id="r-1", order_id=order.order_id)

    first = await actions.accept_work_order(accept, WATER, uow_of(db_engine))
    again = await actions.accept_work_order(accept, WATER, uow_of(db_engine))
    assert again == first and first.work_order.accepted_at.seconds > 0
    assert len(await outbox(db_engine, WORKORDER_ACCEPTED)) == 1

    with pytest.raises(FailedPreconditionError):
        await actions.accept_work_order(
            commands.AcceptWorkOrder("r-2", order.order_id), WATER, uow_of(db_engine)
        )
    # Another department can neither replay the stored response nor act.
    with pytest.raises(PermissionDeniedError):
        await actions.accept_work_order(accept, ROADS, uow_of(db_engine))
    with pytest.raises(NotFoundError):
        await actions.get_work_order(
            commands.GetWorkOrder(order.order_id), ROADS, uow_of(db_engine)
        )
    with pytest.raises(InvalidArgumentError, match="request_id"):
        await actions.accept_work_order(
            commands.AcceptWorkOrder("", order.order_id), WATER, uow_of(db_engine)
        )
    with pytest.raises(NotFoundError):
        await actions.accept_work_order(
            commands.AcceptWorkOrder("r-3", "WO-missing"), WATER, uow_of(db_engine)
        )


async def test_a_request_id_reused_for_another_order_is_refused(db_engine: AsyncEngine) -> None:
    async with uow_of(db_engine) as uow:
        await handlers.on_dispatch_event(dispatch_event("D-1"), uow, NO_WEBHOOKS)
        await handlers.on_dispatch_event(dispatch_event("D-2"), uow, NO_WEBHOOKS)
        await uow.commit()
    async with uow_of(db_engine) as uow:
        first, second = await uow.orders.find(department_id="water", limit=2)
    await actions.accept_work_order(
        commands.AcceptWorkOrder("r-1", first.order_id), WATER, uow_of(db_engine)
    )
    with pytest.raises(InvalidArgumentError, match="another work order"):
        await actions.accept_work_order(
            commands.AcceptWorkOrder("r-1", second.order_id), WATER, uow_of(db_engine)
        )
    got, _ = await actions.get_work_order(
        commands.GetWorkOrder(second.order_id), WATER, uow_of(db_engine)
    )
    assert got.state is OrderState.CREATED
