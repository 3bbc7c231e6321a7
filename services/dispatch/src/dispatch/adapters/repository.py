"""Cases and assignments: rows in and out as domain records (the only code querying them)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Table, bindparam, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import AssignmentRow, CaseRow
from dispatch.adapters.tracking import Fields, TrackedRows, Values
from dispatch.domain.areas import Place
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role

CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
ASSIGNMENTS: Table = AssignmentRow.__table__  # type: ignore[attr-defined]


class CaseRepository:
    """Dispatch's cases, one row per case id."""

    def __init__(self, session: AsyncSession) -> None:
        self._rows = TrackedRows(session, CASES)
        # Loaded rows this transaction holds a row lock on (read ahead for a batch,
        # or by `get(for_update=True)`), and ids read ahead and found absent.
        self._locked: set[str] = set()
        self._absent: set[str] = set()

    async def preload(self, case_ids: Iterable[str]) -> None:
        """A batch's cases in one `IN` query, so each event's `get` finds its
        case here (one SELECT per event was a sixth of dispatch's time)."""
        wanted = sorted(
            {c for c in case_ids if c and self._rows.new(c) is None} - self._locked - self._absent
        )
        if not wanted:
            return
        for row in await self._rows.execute(_CASES_LOCKED, wanted_case_ids=wanted):
            self._rows.seen(row)
            self._locked.add(row.case_id)
        self._absent.update(c for c in wanted if c not in self._locked)

    def add(self, case: CaseFile) -> None:
        """A new case: inserted with the transaction's other new cases (see TrackedRows)."""
        self._rows.add(_case_values(case))

    async def save(self, case: CaseFile) -> None:
        await self._rows.save(_case_values(case))

    async def get(self, case_id: str, *, for_update: bool = False) -> CaseFile | None:
        """The case as this transaction sees it: added, read ahead, loaded, or read now.

        A row loaded without a lock is read again with one when ``for_update`` asks.
        """
        values = self._rows.new(case_id)
        if values is not None:
            return _case(Fields(values))
        tracked = self._rows.tracked(case_id)
        if tracked is not None and (case_id in self._locked or not for_update):
            return _case(tracked)
        if case_id in self._absent:
            return None
        query = _CASE_LOCKED if for_update else _CASE
        row = (await self._rows.execute(query, wanted_case_id=case_id)).first()
        if row is None:
            return None
        if for_update:
            self._locked.add(case_id)
        return _case(self._rows.seen(row))

    async def in_state(self, state: CaseState, limit: int = 500) -> list[CaseFile]:
        await self._rows.write()
        query = (
            select(CASES)
            .where(CASES.c.state == state.value)
            .order_by(CASES.c.updated_at)
            .limit(limit)
        )
        return [_case(self._rows.seen(row)) for row in await self._rows.execute(query)]

    async def write(self) -> None:
        """Insert the cases added in this transaction (at commit, or before a query)."""
        await self._rows.write()

    def discard(self) -> None:
        self._rows.discard()


class AssignmentRepository:
    """Assignments (one per department per decision), by dispatch id and by case.

    Assignments added in this transaction wait in memory (see TrackedRows): a
    query by case first writes them (one executemany, where the ORM's autoflush
    flushed everything pending before every query); the team measures count
    them in memory instead, as a filed case asks for those before each decision.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._rows = TrackedRows(session, ASSIGNMENTS)

    def add(self, assignment: Assignment) -> None:
        self._rows.add(_assignment_values(assignment))

    async def save(self, assignment: Assignment) -> None:
        await self._rows.save(_assignment_values(assignment))

    async def preload(self, dispatch_ids: Iterable[str]) -> None:
        """A batch's assignments by dispatch id in one `IN` query, for `get`."""
        wanted = sorted(
            {
                d
                for d in dispatch_ids
                if d and self._rows.new(d) is None and self._rows.tracked(d) is None
            }
        )
        if not wanted:
            return
        for row in await self._rows.execute(_ASSIGNMENTS, wanted_dispatch_ids=wanted):
            self._rows.seen(row)

    async def get(self, dispatch_id: str) -> Assignment | None:
        values = self._rows.new(dispatch_id)
        if values is not None:
            return _assignment(Fields(values))
        row = await self._rows.read(dispatch_id)
        return _assignment(row) if row is not None else None

    async def for_case(self, case_id: str) -> list[Assignment]:
        await self._rows.write()
        rows = await self._rows.execute(_FOR_CASE, wanted_case_id=case_id)
        return [_assignment(self._rows.seen(row)) for row in rows]

    async def last_team(self, department_id: str) -> str | None:
        """The team that got the department's most recent case (round-robin's turn).

        The stored rows' latest, against this transaction's new rows in memory
        (no write for it); a tie on the time between different teams, which only
        the database's order of ids may break, is asked of it after writing them.
        """
        # Stored rows as this transaction changed them; its new ones stay in memory.
        await self._rows.write_changed()
        params = {"wanted_department_id": department_id}
        latest = [
            (values["dispatched_at"], values["team_id"])
            for values in self._rows.pending()
            if values["department_id"] == department_id and values["team_id"] != ""
        ]
        stored = (await self._rows.execute(_LAST_TEAM, **params)).first()
        if stored is not None:
            latest.append((stored.dispatched_at, stored.team_id))
        if not latest:
            return None
        newest = max(at for at, _ in latest)
        teams = {team for at, team in latest if at == newest}
        if len(teams) == 1:
            return teams.pop()
        await self._rows.write()
        first = (await self._rows.execute(_LAST_TEAM, **params)).first()
        return None if first is None else str(first.team_id)

    async def team_loads(self, department_id: str) -> dict[str, int]:
        """Open cases per team of a department (least-loaded's measure): the stored
        rows counted by the database, this transaction's new ones in memory."""
        await self._rows.write_changed()
        stored = await self._rows.execute(_TEAM_LOADS, wanted_department_id=department_id)
        loads = {row.team_id: int(row.open_cases) for row in stored}
        for values in self._rows.pending():
            if (
                values["department_id"] == department_id
                and values["status"] == AssignmentStatus.ACTIVE.value
                and values["team_id"] != ""
            ):
                loads[values["team_id"]] = loads.get(values["team_id"], 0) + 1
        return loads

    async def write(self) -> None:
        """Insert the assignments added in this transaction (at commit, or before a query)."""
        await self._rows.write()

    def discard(self) -> None:
        self._rows.discard()


# The per-event reads, built once with parameters: building a statement per call
# (and its cache key) cost about as much as running it.
_CASE = select(CASES).where(CASES.c.case_id == bindparam("wanted_case_id"))
_CASE_LOCKED = _CASE.with_for_update()
_CASES_LOCKED = (
    select(CASES)
    .where(CASES.c.case_id.in_(bindparam("wanted_case_ids", expanding=True)))
    .with_for_update()
)
_ASSIGNMENTS = select(ASSIGNMENTS).where(
    ASSIGNMENTS.c.dispatch_id.in_(bindparam("wanted_dispatch_ids", expanding=True))
)
_FOR_CASE = (
    select(ASSIGNMENTS)
    .where(ASSIGNMENTS.c.case_id == bindparam("wanted_case_id"))
    .order_by(ASSIGNMENTS.c.attempt, ASSIGNMENTS.c.dispatched_at, ASSIGNMENTS.c.position)
)
_LAST_TEAM = (
    select(ASSIGNMENTS.c.team_id, ASSIGNMENTS.c.dispatched_at)
    .where(
        ASSIGNMENTS.c.department_id == bindparam("wanted_department_id"),
        ASSIGNMENTS.c.team_id != "",
    )
    .order_by(ASSIGNMENTS.c.dispatched_at.desc(), ASSIGNMENTS.c.dispatch_id.desc())
    .limit(1)
)
_TEAM_LOADS = (
    select(ASSIGNMENTS.c.team_id, func.count().label("open_cases"))
    .where(
        ASSIGNMENTS.c.department_id == bindparam("wanted_department_id"),
        ASSIGNMENTS.c.status == AssignmentStatus.ACTIVE.value,
        ASSIGNMENTS.c.team_id != "",
    )
    .group_by(ASSIGNMENTS.c.team_id)
)


def _case_values(case: CaseFile) -> Values:
    """Every column of the case's row (a new row is inserted with exactly these)."""
    point = case.place.point
    return dict(
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


def _case(row: Fields) -> CaseFile:
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


def _assignment_values(a: Assignment) -> Values:
    """Every column of the assignment's row."""
    return dict(
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


def _assignment(row: Fields) -> Assignment:
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
