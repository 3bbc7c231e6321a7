"""The only code that queries `workorders_order`; it maps rows ⇄ domain orders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workorders.adapters.tables import WorkOrderRow
from workorders.domain.model import Evidence, OrderState, Place, WorkOrder


class WorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, order: WorkOrder) -> None:
        self._session.add(WorkOrderRow(**_columns(order)))

    async def get(self, order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        """The order, row-locked for the transaction when it is about to change
        (a no-op on SQLite, where the unit of work already serialises writers)."""
        row = await self._row(order_id, for_update=for_update)
        return _to_domain(row) if row else None

    async def get_by_dispatch(self, dispatch_id: str) -> WorkOrder | None:
        query = select(WorkOrderRow).where(WorkOrderRow.dispatch_id == dispatch_id)
        row = (await self._session.exec(query)).first()
        return _to_domain(row) if row else None

    async def save(self, order: WorkOrder) -> None:
        """Write a changed order back to its row."""
        row = await self._row(order.order_id)
        if row is None:
            raise LookupError(f"work order {order.order_id} was never added")
        for name, value in _columns(order).items():
            setattr(row, name, value)
        self._session.add(row)

    async def find(
        self,
        *,
        department_id: str | None,
        states: Sequence[OrderState] = (),
        case_id: str = "",
        limit: int,
    ) -> list[WorkOrder]:
        """Oldest first: a department works its queue in the order it arrived."""
        query = select(WorkOrderRow)
        if department_id is not None:
            query = query.where(WorkOrderRow.department_id == department_id)
        if states:
            query = query.where(col(WorkOrderRow.state).in_([s.value for s in states]))
        if case_id:
            query = query.where(WorkOrderRow.case_id == case_id)
        query = query.order_by(col(WorkOrderRow.created_at), col(WorkOrderRow.order_id)).limit(
            limit
        )
        return [_to_domain(row) for row in (await self._session.exec(query)).all()]

    async def _row(self, order_id: str, *, for_update: bool = False) -> WorkOrderRow | None:
        query = select(WorkOrderRow).where(WorkOrderRow.order_id == order_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.exec(query)).first()


def _columns(order: WorkOrder) -> dict[str, Any]:
    place = order.place or Place()
    return {
        "order_id": order.order_id,
        "dispatch_id": order.dispatch_id,
        "case_id": order.case_id,
        "department_id": order.department_id,
        "state": order.state.value,
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
    }


def _to_domain(row: WorkOrderRow) -> WorkOrder:
    place = (
        Place(row.latitude, row.longitude, row.district_code, row.street_code, row.grid_code)
        if row.has_place
        else None
    )
    return WorkOrder(
        order_id=row.order_id,
        dispatch_id=row.dispatch_id,
        case_id=row.case_id,
        department_id=row.department_id,
        state=OrderState(row.state),
        category_code=row.category_code,
        title=row.title,
        place=place,
        created_at=row.created_at,
        deadline=row.deadline,
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        completion_note=row.completion_note,
        evidence=tuple(Evidence(**item) for item in json.loads(row.evidence)),
        case_traceparent=row.case_traceparent,
    )
