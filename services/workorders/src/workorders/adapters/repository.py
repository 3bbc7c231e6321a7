"""The only code that queries `workorders_order`; it maps rows ⇄ domain orders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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

    async def get_by_key(
        self, case_id: str, department_id: str, role: OrderRole, attempt: int
    ) -> WorkOrder | None:
        """The order for (case, department, role, attempt), which is unique."""
        query = select(WorkOrderRow).where(
            WorkOrderRow.case_id == case_id,
            WorkOrderRow.department_id == department_id,
            WorkOrderRow.role == role.value,
            WorkOrderRow.attempt == attempt,
        )
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
        after: Position | None = None,
    ) -> list[WorkOrder]:
        """Oldest first: a department works its queue in the order it arrived.
        (created_at, order_id) is a total order, so `after` resumes a listing exactly."""
        query = select(WorkOrderRow)
        if department_id is not None:
            query = query.where(WorkOrderRow.department_id == department_id)
        if states:
            query = query.where(col(WorkOrderRow.state).in_([s.value for s in states]))
        if case_id:
            query = query.where(WorkOrderRow.case_id == case_id)
        if after is not None:
            query = query.where(
                or_(
                    col(WorkOrderRow.created_at) > after.created_at,
                    and_(
                        col(WorkOrderRow.created_at) == after.created_at,
                        col(WorkOrderRow.order_id) > after.order_id,
                    ),
                )
            )
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


def _to_domain(row: WorkOrderRow) -> WorkOrder:
    place = (
        Place(row.latitude, row.longitude, row.district_code, row.street_code, row.grid_code)
        if row.has_place
        else None
    )
    extension = None
    if row.extension_id and row.extension_requested_at is not None:
        extension = PendingExtension(
            row.extension_id,
            row.extension_hours,
            row.extension_reason,
            row.extension_requested_at,
            OrderState(row.extension_resume_state),
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
        role=OrderRole(row.role),
        attempt=row.attempt,
        lead_department_id=row.lead_department_id,
        returned_at=row.returned_at,
        returned_by=row.returned_by,
        return_reason=ReturnReason(row.return_reason) if row.return_reason else None,
        return_note=row.return_note,
        progressed_at=row.progressed_at,
        progress_note=row.progress_note,
        extension=extension,
        reopened_at=row.reopened_at,
        reopen_reason=row.reopen_reason,
        rework_count=row.rework_count,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        escalation_level=row.escalation_level,
        escalated_at=row.escalated_at,
    )
