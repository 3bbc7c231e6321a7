"""ListWorkOrders paging on SQLite and PostgreSQL: a stable oldest-first order
across pages, even with orders created meanwhile or sharing a creation time,
and tokens that only ever resume the caller's own listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller
from workorders.domain import commands
from workorders.domain.model import OrderState, WorkOrder
from workorders.service_layer import actions
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

WATER = Caller("u-water", "department_user", "water")
ROADS = Caller("u-roads", "department_user", "roads")
INSPECTOR = Caller("u-inspector", "inspector", "centre-inspection")
T0 = datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC)


def uow_of(engine: AsyncEngine) -> WorkOrdersUnitOfWork:
    return WorkOrdersUnitOfWork(engine, "workorders")


def order(n: int, department: str, created_at: datetime, case_id: str = "") -> WorkOrder:
    return WorkOrder(
        order_id=f"WO-{n:03d}",
        dispatch_id=f"D-{n:03d}",
        case_id=case_id or f"C-{n:03d}",
        department_id=department,
        state=OrderState.CREATED,
        category_code="E0105",
        title="坑洼",
        place=None,
        created_at=created_at,
    )


async def add(engine: AsyncEngine, *orders: WorkOrder) -> None:
    async with uow_of(engine) as uow:
        for o in orders:
            uow.orders.add(o)
        await uow.commit()


async def page(
    engine: AsyncEngine,
    caller: Caller,
    token: str = "",
    size: int = 2,
    states: tuple[OrderState, ...] = (),
) -> tuple[list[str], str]:
    cmd = commands.ListWorkOrders(states=states, page_size=size, page_token=token)
    result = await actions.list_work_orders(cmd, caller, uow_of(engine))
    return [o.order_id for o, _ in result.views], result.next_page_token


async def every_page(engine: AsyncEngine, caller: Caller, size: int = 2) -> list[list[str]]:
    pages, token = [], ""
    while True:
        ids, token = await page(engine, caller, token, size)
        pages.append(ids)
        if not token:
            return pages


async def test_pages_follow_creation_then_id_and_end_without_a_token(
    db_engine: AsyncEngine,
) -> None:
    # WO-002 … WO-004 share a creation time: the id breaks the tie.
    await add(
        db_engine,
        order(4, "water", T0 + timedelta(seconds=1)),
        order(1, "water", T0),
        order(3, "water", T0 + timedelta(seconds=1)),
        order(2, "water", T0 + timedelta(seconds=1)),
        order(5, "water", T0 + timedelta(seconds=2)),
        order(6, "roads", T0 + timedelta(microseconds=1)),
    )
    assert await every_page(db_engine, WATER) == [
        ["WO-001", "WO-002"],
        ["WO-003", "WO-004"],
        ["WO-005"],
    ]
    # Exactly a page's worth: the last page says so instead of leading to an empty one.
    assert await every_page(db_engine, WATER, size=5) == [
        ["WO-001", "WO-002", "WO-003", "WO-004", "WO-005"]
    ]
    assert await every_page(db_engine, INSPECTOR, size=4) == [
        ["WO-001", "WO-006", "WO-002", "WO-003"],
        ["WO-004", "WO-005"],
    ]


async def test_orders_created_while_paging_neither_shift_nor_repeat(
    db_engine: AsyncEngine,
) -> None:
    await add(db_engine, *(order(n, "water", T0 + timedelta(seconds=n)) for n in range(1, 5)))
    first, token = await page(db_engine, WATER)
    assert first == ["WO-001", "WO-002"]
    # A new order arrives between the two calls: it joins the end of the queue.
    await add(db_engine, order(9, "water", T0 + timedelta(minutes=5)))
    second, token = await page(db_engine, WATER, token)
    third, token = await page(db_engine, WATER, token)
    assert (second, third, token) == (["WO-003", "WO-004"], ["WO-009"], "")


async def test_a_token_resumes_only_the_callers_own_listing(db_engine: AsyncEngine) -> None:
    await add(
        db_engine,
        *(order(n, "roads", T0 + timedelta(seconds=n)) for n in range(1, 4)),
        order(7, "water", T0 + timedelta(seconds=10)),
    )
    roads_first, roads_token = await page(db_engine, ROADS)
    assert roads_first == ["WO-001", "WO-002"] and roads_token
    # Water replaying roads' cursor resumes water's own listing: nothing of roads'.
    assert await page(db_engine, WATER, roads_token) == (["WO-007"], "")


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "e30", "eyJ2IjoxfQ", "eyJ2IjoyLCJjIjoiMjAyNi0wMS0wMSIsIm8iOiJ4IiwiZiI6IiJ9"],
    ids=["garbage", "empty-object", "incomplete", "other-version"],
)
async def test_a_token_this_service_did_not_issue_is_invalid(
    db_engine: AsyncEngine, token: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        await page(db_engine, WATER, token)


async def test_a_token_is_bound_to_its_filters(db_engine: AsyncEngine) -> None:
    await add(db_engine, *(order(n, "water", T0 + timedelta(seconds=n)) for n in range(1, 4)))
    _, token = await page(db_engine, WATER, states=(OrderState.CREATED,))
    assert token
    with pytest.raises(InvalidArgumentError, match="other states or case_id"):
        await page(db_engine, WATER, token)
    ids, _ = await page(db_engine, WATER, token, states=(OrderState.CREATED,))
    assert ids == ["WO-003"]
