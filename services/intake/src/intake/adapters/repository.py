"""The only code that queries intake's tables; it speaks domain objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import CaseRow, DetectionLink
from intake.domain.model import Case, CasePage, CaseQuery, CaseState, FilingSource, Place


def _columns(case: Case) -> dict[str, Any]:
    """The row's column values for a case."""
    return {
        "case_id": case.case_id,
        "category_code": case.category_code,
        "title": case.title,
        "latitude": case.place.latitude,
        "longitude": case.place.longitude,
        "district_code": case.place.district_code,
        "street_code": case.place.street_code,
        "grid_code": case.place.grid_code,
        "urgency": case.urgency,
        "state": case.state.value,
        "filed_at": case.filed_at,
        "updated_at": case.updated_at,
        "source": case.source.value,
        "filed_by": case.filed_by,
        "trace_id": case.trace_id,
        "origin_traceparent": case.origin_traceparent,
        "lead_department_id": case.lead_department_id,
        "deadline": case.deadline,
        "dispatched_at": case.dispatched_at,
        "state_at": case.state_at,
    }


def _to_case(row: CaseRow, detection_ids: list[str]) -> Case:
    return Case(
        case_id=row.case_id,
        category_code=row.category_code,
        title=row.title,
        place=Place(row.latitude, row.longitude, row.district_code, row.street_code, row.grid_code),
        urgency=row.urgency,
        state=CaseState(row.state),
        filed_at=row.filed_at,
        updated_at=row.updated_at,
        source=FilingSource(row.source),
        filed_by=row.filed_by,
        trace_id=row.trace_id,
        origin_traceparent=row.origin_traceparent,
        detection_ids=detection_ids,
        lead_department_id=row.lead_department_id,
        deadline=row.deadline,
        dispatched_at=row.dispatched_at,
        state_at=row.state_at,
    )


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, case: Case, linked_at: datetime) -> None:
        """Store a new case and link its detections (flushed: a duplicate fails here)."""
        self.session.add(CaseRow(**_columns(case)))
        for detection_id in case.detection_ids:
            self.session.add(
                DetectionLink(detection_id=detection_id, case_id=case.case_id, linked_at=linked_at)
            )
        await self.session.flush()

    async def update(self, case: Case) -> None:
        """Write back a case read from this repository."""
        row = await self.session.get(CaseRow, case.case_id)
        if row is None:
            raise LookupError(f"case {case.case_id} is not stored")
        for name, value in _columns(case).items():
            setattr(row, name, value)
        self.session.add(row)

    async def get(self, case_id: str) -> Case | None:
        row = await self.session.get(CaseRow, case_id)
        if row is None:
            return None
        links = await self._links([case_id])
        return _to_case(row, links.get(case_id, []))

    async def case_for_detection(self, detection_id: str) -> str | None:
        """The case a detection is linked to, if any."""
        link = await self.session.get(DetectionLink, detection_id)
        return link.case_id if link else None

    async def page(self, query: CaseQuery) -> CasePage:
        """Newest first (filing time, then id: ids are time-ordered)."""
        where = []
        if query.states:
            where.append(col(CaseRow.state).in_([s.value for s in query.states]))
        counted = select(func.count()).select_from(CaseRow).where(*where)
        total = (await self.session.exec(counted)).one()
        rows = (
            await self.session.exec(
                select(CaseRow)
                .where(*where)
                .order_by(col(CaseRow.filed_at).desc(), col(CaseRow.case_id).desc())
                .offset(query.offset)
                .limit(query.limit)
            )
        ).all()
        links = await self._links([r.case_id for r in rows])
        cases = [_to_case(r, links.get(r.case_id, [])) for r in rows]
        end = query.offset + len(cases)
        return CasePage(cases=cases, total=total, next_offset=end if end < total else None)

    async def _links(self, case_ids: list[str]) -> dict[str, list[str]]:
        if not case_ids:
            return {}
        result = await self.session.exec(
            select(DetectionLink)
            .where(col(DetectionLink.case_id).in_(case_ids))
            .order_by(col(DetectionLink.linked_at), col(DetectionLink.detection_id))
        )
        links: dict[str, list[str]] = {}
        for link in result.all():
            links.setdefault(link.case_id, []).append(link.detection_id)
        return links
