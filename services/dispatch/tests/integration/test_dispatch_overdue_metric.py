"""The overdue gauge counts open assignments past their deadline, per department."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch.adapters.metrics import sample_overdue
from dispatch.adapters.tables import AssignmentRow, CaseRow
from svckit import db
from svckit.clock import utcnow
from svckit.metrics import REGISTRY


def row(dispatch_id: str, department: str, hours_left: float, ended: bool = False) -> AssignmentRow:
    now = utcnow()
    return AssignmentRow(
        dispatch_id=dispatch_id,
        case_id=f"case-{dispatch_id}",
        department_id=department,
        role="LEAD",
        attempt=1,
        dispatched_at=now - timedelta(hours=10),
        deadline=now + timedelta(hours=hours_left),
        status="ended" if ended else "open",
        ended_at=now if ended else None,
    )


async def test_overdue_gauge_counts_only_running_assignments_past_deadline(
    db_engine: AsyncEngine,
) -> None:
    async with db.session_factory(db_engine)() as session:
        session.add_all(
            [
                row("a", "D01-water", -2),
                row("b", "D01-water", -1),
                row("c", "D01-water", +3),
                row("d", "D02-gas", -5, ended=True),
                row("e", "D02-gas", -1),
                row("f", "D02-gas", -4),  # its case is in 挂账: the clock is stopped
                CaseRow(
                    case_id="case-f",
                    category_code="E0403",
                    district_code="D02",
                    state="backlogged",
                    received_at=utcnow(),
                    updated_at=utcnow(),
                ),
            ]
        )
        await session.commit()
    await sample_overdue(db_engine)
    text = generate_latest(REGISTRY).decode()
    assert 'cityops_dispatch_overdue_assignments{department="D01-water"} 2.0' in text
    assert 'cityops_dispatch_overdue_assignments{department="D02-gas"} 1.0' in text
