"""Dispatch's gauge on the process's Prometheus registry: open assignments past
their deadline, per department (the 督办 board in numbers).

Shares whose clock is stopped do not count: a case in 挂账, or one whose lead
has completed (the assisting shares' clocks stop with it)."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from dispatch.adapters.tables import AssignmentRow, CaseRow
from dispatch.domain.model import CaseState
from svckit import db
from svckit.clock import utcnow
from svckit.metrics import REGISTRY

STOPPED = (CaseState.BACKLOGGED.value, CaseState.COMPLETED.value)

OVERDUE = Gauge(
    "cityops_dispatch_overdue_assignments",
    "Open assignments whose deadline has passed, per department.",
    ["department"],
    registry=REGISTRY,
)


async def sample_overdue(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as session:
        rows = await session.exec(
            select(AssignmentRow.department_id, func.count())
            .where(
                col(AssignmentRow.ended_at).is_(None),
                col(AssignmentRow.deadline) < utcnow(),
                col(AssignmentRow.case_id).not_in(
                    select(CaseRow.case_id).where(col(CaseRow.state).in_(STOPPED))
                ),
            )
            .group_by(col(AssignmentRow.department_id))
        )
        counts = dict(rows.all())
    for labels in list(OVERDUE._metrics):  # departments no longer overdue drop to 0
        OVERDUE.labels(*labels).set(0)
    for department, count in counts.items():
        OVERDUE.labels(department).set(count)
