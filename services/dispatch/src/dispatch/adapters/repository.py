"""The only code that queries dispatch's tables; rows in and out as domain records."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import DispatchDecisionRow
from dispatch.domain.model import DispatchRecord, Outcome


class DecisionRepository:
    """Dispatch decisions, one per case, in the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, record: DispatchRecord) -> None:
        self._session.add(
            DispatchDecisionRow(
                dispatch_id=record.dispatch_id,
                case_id=record.case_id,
                category_code=record.category_code,
                district_code=record.district_code,
                outcome=record.outcome.value,
                decided_at=record.decided_at,
                department_id=record.department_id,
                rule_id=record.rule_id,
                rule_version=record.rule_version,
                handling_hours=record.handling_hours,
                deadline=record.deadline,
                reason=record.reason,
                origin_traceparent=record.origin_traceparent,
            )
        )

    async def for_case(self, case_id: str) -> DispatchRecord | None:
        result = await self._session.exec(
            select(DispatchDecisionRow).where(DispatchDecisionRow.case_id == case_id)
        )
        row = result.first()
        return _record(row) if row else None


def _record(row: DispatchDecisionRow) -> DispatchRecord:
    return DispatchRecord(
        dispatch_id=row.dispatch_id,
        case_id=row.case_id,
        category_code=row.category_code,
        district_code=row.district_code,
        outcome=Outcome(row.outcome),
        decided_at=row.decided_at,
        department_id=row.department_id,
        rule_id=row.rule_id,
        rule_version=row.rule_version,
        handling_hours=row.handling_hours,
        deadline=row.deadline,
        reason=row.reason,
        origin_traceparent=row.origin_traceparent,
    )
