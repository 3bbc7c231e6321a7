"""The only code that queries `workorders_order`; it maps rows ⇄ domain orders.

Orders are read and written with Core statements over plain mappings, not ORM
objects (every dispatch creates one and every department action rewrites one;
the ORM's per-object work and the flush before each query were most of the
cost). New and changed orders wait here, where reads find them, and reach the
table in one executemany per kind at commit (`write_pending`, called by the
unit of work) or before a listing that must see them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit.rows import insert_rows, rewrite_rows
from workorders.adapters.tables import WorkOrderRow
from workorders.domain.model import (
    Evidence,
    OrderRole,
    OrderState,
    PendingExtension,
    Place,
    ReturnReason,
    WorkOrder,
)
from workorders.domain.paging import Position

ORDERS: Table = WorkOrderRow.__table__  # type: ignore[attr-defined]

# The per-action look-ups, built once (building a statement per call cost about
# as much as running it).
_BY_ID = select(ORDERS).where(ORDERS.c.order_id == bindparam("order_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_BY_DISPATCH = select(ORDERS).where(ORDERS.c.dispatch_id == bindparam("dispatch_id"))
_BY_KEY = select(ORDERS).where(
    ORDERS.c.case_id == bindparam("case_id"),
    ORDERS.c.department_id == bindparam("department_id"),
    ORDERS.c.role == bindparam("role"),
    ORDERS.c.attempt == bindparam("attempt"),
)


class WorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Orders added or changed in this transaction, not yet written.
        self._to_insert: dict[str, WorkOrder] = {}
        self._to_update: dict[str, WorkOrder] = {}

    def add(self, order: WorkOrder) -> None:
        self._to_insert[order.order_id] = order

    async def get(self, order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        """The order, row-locked for the transaction when it is about to change
        (a no-op on SQLite, where the unit of work already serialises writers)."""
        pending = self._pending(order_id)
        if pending is not None:
            return pending
        query = _BY_ID_LOCKED if for_update else _BY_ID
        return await self._first(query, order_id=order_id)

    async def get_by_dispatch(self, dispatch_id: str) -> WorkOrder | None:
        for order in self._unwritten():
            if order.dispatch_id == dispatch_id:
                return order
        return await self._first(_BY_DISPATCH, dispatch_id=dispatch_id)

    async def get_by_key(
        self, case_id: str, department_id: str, role: OrderRole, attempt: int
    ) -> WorkOrder | None:
        """The order for (case, department, role, attempt), which is unique."""
        for order in self._unwritten():
            if (order.case_id, order.department_id, order.role, order.attempt) == (
                case_id,
                department_id,
                role,
                attempt,
            ):
                return order
        return await self._first(
            _BY_KEY,
            case_id=case_id,
            department_id=department_id,
            role=role.value,
            attempt=attempt,
        )

    async def save(self, order: WorkOrder) -> None:
        """Write a changed order back to its row (at commit)."""
        if order.order_id in self._to_insert:
            self._to_insert[order.order_id] = order
            return
        if order.order_id not in self._to_update and await self.get(order.order_id) is None:
            raise LookupError(f"work order {order.order_id} was never added")
        self._to_update[order.order_id] = order

    async def write_pending(self) -> None:
        """Send this transaction's new and changed orders to the database."""
        if not self._to_insert and not self._to_update:
            return
        connection = await self._session.connection()
        await insert_rows(connection, ORDERS, [_columns(o) for o in self._to_insert.values()])
        await rewrite_rows(
            connection, ORDERS, "order_id", [_columns(o) for o in self._to_update.values()]
        )
        self._to_insert.clear()
        self._to_update.clear()

    async def find(
        self,
        *,
        department_id: str | None,
        states: Sequence[OrderState] = (),
        case_id: str = "",
        limit: int,
        after: Position | None = None,
    ) -> list[WorkOrder]:
        """Oldest first: a department works its queue in the order it arrived.
        (created_at, order_id) is a total order, so `after` resumes a listing exactly."""
        await self.write_pending()
        where: list[ColumnElement[bool]] = []
        if department_id is not None:
            where.append(ORDERS.c.department_id == department_id)
        if states:
            where.append(ORDERS.c.state.in_([s.value for s in states]))
        if case_id:
            where.append(ORDERS.c.case_id == case_id)
        if after is not None:
            where.append(
                or_(
                    ORDERS.c.created_at > after.created_at,
                    and_(
                        ORDERS.c.created_at == after.created_at,
                        ORDERS.c.order_id > after.order_id,
                    ),
                )
            )
        query = (
            select(ORDERS)
            .where(*where)
            .order_by(ORDERS.c.created_at, ORDERS.c.order_id)
            .limit(limit)
        )
        connection = await self._session.connection()
        return [_to_domain(row._mapping) for row in await connection.execute(query)]

    def _pending(self, order_id: str) -> WorkOrder | None:
        return self._to_insert.get(order_id) or self._to_update.get(order_id)

    def _unwritten(self) -> list[WorkOrder]:
        return [*self._to_insert.values(), *self._to_update.values()]

    async def _first(self, query: Select[Any], **params: Any) -> WorkOrder | None:
        """The first row's order; this transaction's unwritten version if it changed one."""
        connection = await self._session.connection()
        row = (await connection.execute(query, params)).first()
        if row is None:
            return None
        return self._pending(row.order_id) or _to_domain(row._mapping)


def _columns(order: WorkOrder) -> dict[str, Any]:
    place = order.place or Place()
    ext = order.extension
    return {
        "order_id": order.order_id,
        "dispatch_id": order.dispatch_id,
        "case_id": order.case_id,
        "department_id": order.department_id,
        "state": order.state.value,
        "role": order.role.value,
        "attempt": order.attempt,
        "lead_department_id": order.lead_department_id,
        "category_code": order.category_code,
        "title": order.title,
        "has_place": order.place is not None,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "district_code": place.district_code,
        "street_code": place.street_code,
        "grid_code": place.grid_code,
        "created_at": order.created_at,
        "deadline": order.deadline,
        "accepted_at": order.accepted_at,
        "accepted_by": order.accepted_by,
        "completed_at": order.completed_at,
        "completed_by": order.completed_by,
        "completion_note": order.completion_note,
        "evidence": json.dumps([asdict(e) for e in order.evidence], ensure_ascii=False),
        "case_traceparent": order.case_traceparent,
        "returned_at": order.returned_at,
        "returned_by": order.returned_by,
        "return_reason": order.return_reason.value if order.return_reason else "",
        "return_note": order.return_note,
        "progressed_at": order.progressed_at,
        "progress_note": order.progress_note,
        "extension_id": ext.extension_id if ext else "",
        "extension_hours": ext.requested_hours if ext else 0,
        "extension_reason": ext.reason if ext else "",
        "extension_requested_at": ext.requested_at if ext else None,
        "extension_resume_state": ext.resume_state.value if ext else "",
        "reopened_at": order.reopened_at,
        "reopen_reason": order.reopen_reason,
        "rework_count": order.rework_count,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "escalation_level": order.escalation_level,
        "escalated_at": order.escalated_at,
    }


def _to_domain(row: Mapping[Any, Any]) -> WorkOrder:
    place = (
        Place(
            row["latitude"],
            row["longitude"],
            row["district_code"],
            row["street_code"],
            row["grid_code"],
        )
        if row["has_place"]
        else None
    )
    extension = None
    if row["extension_id"] and row["extension_requested_at"] is not None:
        extension = PendingExtension(
            row["extension_id"],
            row["extension_hours"],
            row["extension_reason"],
            row["extension_requested_at"],
            OrderState(row["extension_resume_state"]),
        )
    return WorkOrder(
        order_id=row["order_id"],
        dispatch_id=row["dispatch_id"],
        case_id=row["case_id"],
        department_id=row["department_id"],
        state=OrderState(row["state"]),
        category_code=row["category_code"],
        title=row["title"],
        place=place,
        created_at=row["created_at"],
        deadline=row["deadline"],
        accepted_at=row["accepted_at"],
        accepted_by=row["accepted_by"],
        completed_at=row["completed_at"],
        completed_by=row["completed_by"],
        completion_note=row["completion_note"],
        evidence=tuple(Evidence(**item) for item in json.loads(row["evidence"])),
        case_traceparent=row["case_traceparent"],
        role=OrderRole(row["role"]),
        attempt=row["attempt"],
        lead_department_id=row["lead_department_id"],
        returned_at=row["returned_at"],
        returned_by=row["returned_by"],
        return_reason=ReturnReason(row["return_reason"]) if row["return_reason"] else None,
        return_note=row["return_note"],
        progressed_at=row["progressed_at"],
        progress_note=row["progress_note"],
        extension=extension,
        reopened_at=row["reopened_at"],
        reopen_reason=row["reopen_reason"],
        rework_count=row["rework_count"],
        cancelled_at=row["cancelled_at"],
        cancel_reason=row["cancel_reason"],
        escalation_level=row["escalation_level"],
        escalated_at=row["escalated_at"],
    )
