"""Cases and assignments: rows in and out as domain records (the only code querying them)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import AssignmentRow, CaseRow
from dispatch.adapters.tracking import TrackedRows
from dispatch.domain.areas import Place
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role


class CaseRepository:
    """Dispatch's cases, one row per case id."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._rows: TrackedRows[CaseRow] = TrackedRows(session, lambda r: r.case_id)
        # Cases read ahead for a fetched batch (row-locked as `get(for_update=True)`
        # locks), or added since: None means "no such case" when it was read.
        self._known: dict[str, CaseRow | None] = {}

    async def preload(self, case_ids: Iterable[str]) -> None:
        """A batch's cases in one `IN` query, so each event's `get` finds its
        case here (one SELECT per event was a sixth of dispatch's time)."""
        wanted = sorted({c for c in case_ids if c} - self._known.keys())
        if not wanted:
            return
        query = select(CaseRow).where(col(CaseRow.case_id).in_(wanted)).with_for_update()
        found = {row.case_id: self._rows.seen(row) for row in (await self._session.exec(query))}
        self._known.update((case_id, found.get(case_id)) for case_id in wanted)

    def add(self, case: CaseFile) -> None:
        row = _case_row(case)
        self._rows.add(row)
        self._known[case.case_id] = row

    async def save(self, case: CaseFile) -> None:
        await self._rows.save(_case_row(case))
        if case.case_id in self._known:
            self._known[case.case_id] = self._rows.tracked(case.case_id)

    async def get(self, case_id: str, *, for_update: bool = False) -> CaseFile | None:
        if case_id in self._known:
            known = self._known[case_id]
            return _case(known) if known is not None else None
        query = select(CaseRow).where(CaseRow.case_id == case_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.exec(query)).first()
        return _case(self._rows.seen(row)) if row else None

    async def in_state(self, state: CaseState, limit: int = 500) -> list[CaseFile]:
        query = (
            select(CaseRow)
            .where(CaseRow.state == state.value)
            .order_by(col(CaseRow.updated_at))
            .limit(limit)
        )
        return [_case(row) for row in (await self._session.exec(query)).all()]


class AssignmentRepository:
    """Assignments (one per department per decision), by dispatch id and by case."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._rows: TrackedRows[AssignmentRow] = TrackedRows(session, lambda r: r.dispatch_id)

    def add(self, assignment: Assignment) -> None:
        self._rows.add(_assignment_row(assignment))

    async def save(self, assignment: Assignment) -> None:
        await self._rows.save(_assignment_row(assignment))

    async def get(self, dispatch_id: str) -> Assignment | None:
        row = await self._session.get(AssignmentRow, dispatch_id)
        return _assignment(self._rows.seen(row)) if row else None

    async def for_case(self, case_id: str) -> list[Assignment]:
        query = (
            select(AssignmentRow)
            .where(AssignmentRow.case_id == case_id)
            .order_by(
                col(AssignmentRow.attempt),
                col(AssignmentRow.dispatched_at),
                col(AssignmentRow.position),
            )
        )
        return [
            _assignment(self._rows.seen(row)) for row in (await self._session.exec(query)).all()
        ]

    async def last_team(self, department_id: str) -> str | None:
        """The team that got the department's most recent case (round-robin's turn)."""
        query = (
            select(AssignmentRow.team_id)
            .where(AssignmentRow.department_id == department_id, AssignmentRow.team_id != "")
            .order_by(
                col(AssignmentRow.dispatched_at).desc(), col(AssignmentRow.dispatch_id).desc()
            )
            .limit(1)
        )
        return (await self._session.exec(query)).first()

    async def team_loads(self, department_id: str) -> dict[str, int]:
        """Open cases per team of a department (least-loaded's measure)."""
        query = (
            select(AssignmentRow.team_id, func.count())
            .where(
                AssignmentRow.department_id == department_id,
                AssignmentRow.status == AssignmentStatus.ACTIVE.value,
                AssignmentRow.team_id != "",
            )
            .group_by(col(AssignmentRow.team_id))
        )
        return {team: int(count) for team, count in (await self._session.exec(query)).all()}


def _case_row(case: CaseFile) -> CaseRow:
    point = case.place.point
    return CaseRow(
        case_id=case.case_id,
        category_code=case.category_code,
        district_code=case.place.district_code,
        street_code=case.place.street_code,
        grid_code=case.place.grid_code,
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
        title=case.title,
        urgency=case.urgency,
        state=case.state.value,
        received_at=case.received_at,
        updated_at=case.updated_at,
        attempt=case.attempt,
        returns=case.returns,
        returned_by=json.dumps(case.returned_by),
        reason=case.reason,
        origin_traceparent=case.origin_traceparent,
        verification_deadline=case.verification_deadline,
    )


def _case(row: CaseRow) -> CaseFile:
    point = (
        (row.latitude, row.longitude)
        if row.latitude is not None and row.longitude is not None
        else None
    )
    return CaseFile(
        case_id=row.case_id,
        category_code=row.category_code,
        place=Place(row.district_code, row.street_code, row.grid_code, point),
        title=row.title,
        urgency=row.urgency,
        state=CaseState(row.state),
        received_at=row.received_at,
        updated_at=row.updated_at,
        attempt=row.attempt,
        returns=row.returns,
        returned_by=list(json.loads(row.returned_by)),
        reason=row.reason,
        origin_traceparent=row.origin_traceparent,
        verification_deadline=row.verification_deadline,
    )


def _assignment_row(a: Assignment) -> AssignmentRow:
    return AssignmentRow(
        dispatch_id=a.dispatch_id,
        case_id=a.case_id,
        department_id=a.department_id,
        role=a.role.value,
        attempt=a.attempt,
        position=a.order,
        rule_id=a.rule_id,
        rule_version=a.rule_version,
        team_id=a.team_id,
        dispatched_at=a.dispatched_at,
        deadline=a.deadline,
        lead_department_id=a.lead_department_id,
        status=a.status.value,
        ended_at=a.ended_at,
        end_reason=a.end_reason,
        lost_seconds=a.lost.total_seconds(),
    )


def _assignment(row: AssignmentRow) -> Assignment:
    return Assignment(
        dispatch_id=row.dispatch_id,
        case_id=row.case_id,
        department_id=row.department_id,
        role=Role(row.role),
        attempt=row.attempt,
        rule_id=row.rule_id,
        rule_version=row.rule_version,
        dispatched_at=row.dispatched_at,
        deadline=row.deadline,
        lead_department_id=row.lead_department_id,
        team_id=row.team_id,
        order=row.position,
        status=AssignmentStatus(row.status),
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        lost=timedelta(seconds=row.lost_seconds),
    )
