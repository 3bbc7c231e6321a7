"""Rule versions, timers, extensions, arbitrations and 挂账: rows in and out as domain records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Table, Update, bindparam, func, text, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import (
    ArbitrationRow,
    ExtensionRow,
    RuleVersionRow,
    SuspensionRow,
    TimerRow,
)
from dispatch.adapters.tracking import Fields, TrackedRows, Values
from dispatch.domain.escalation import EscalationKind, Timer, TimerStatus
from dispatch.domain.model import CaseState, ResponsibilityError
from dispatch.domain.oversight import (
    Arbitration,
    ArbitrationOutcome,
    Extension,
    Pending,
    Suspension,
)
from dispatch.domain.rules import parse_rule
from dispatch.domain.stages import Stage
from dispatch.domain.versions import RuleVersion
from svckit.clock import new_id


class RuleRepository:
    """The responsibility catalogue's history: versions are only ever added."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self) -> None:
        """Serialise catalogue changes across replicas (SQLite: the write lock already does)."""
        bind = self._session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            await self._session.exec(
                text("LOCK TABLE dispatch_rule_version IN SHARE ROW EXCLUSIVE MODE")  # type: ignore[call-overload]
            )

    def add(self, version: RuleVersion) -> None:
        self._session.add(
            RuleVersionRow(
                version_id=new_id(),
                rule_id=version.rule_id,
                version=version.version,
                body=json.dumps(version.rule.to_mapping(), ensure_ascii=False, sort_keys=True),
                retired=version.retired,
                source=version.source,
                recorded_at=version.recorded_at,
                recorded_by=version.recorded_by,
                declared_hash=version.declared_hash,
            )
        )

    async def revision(self) -> tuple[str, int]:
        """Changes whenever a version is added (ids are time-ordered), for cache checks."""
        latest, count = (await self._session.exec(_REVISION)).one()
        return latest or "", int(count)

    async def all(self, rule_id: str = "") -> list[RuleVersion]:
        query = select(RuleVersionRow).order_by(
            col(RuleVersionRow.rule_id), col(RuleVersionRow.version)
        )
        if rule_id:
            query = query.where(RuleVersionRow.rule_id == rule_id)
        return [_version(row) for row in (await self._session.exec(query)).all()]


_REVISION = select(func.max(RuleVersionRow.version_id), func.count())  # once a transaction


def _version(row: RuleVersionRow) -> RuleVersion:
    rule, problems = parse_rule(json.loads(row.body), 0)
    if rule is None:
        raise ResponsibilityError(f"stored rule {row.rule_id} v{row.version}", problems)
    return RuleVersion(
        rule=rule,
        version=row.version,
        recorded_at=row.recorded_at,
        source=row.source,
        retired=row.retired,
        recorded_by=row.recorded_by,
        declared_hash=row.declared_hash,
    )


TIMERS: Table = TimerRow.__table__  # type: ignore[attr-defined]
# A case's timers, read per event: built once.
_TIMERS_OF_CASE = (
    sa_select(TIMERS)
    .where(TIMERS.c.case_id == bindparam("wanted_case_id"))
    .order_by(TIMERS.c.fire_at)
)
_TIMERS_OF_DISPATCH = (
    sa_select(TIMERS)
    .where(
        TIMERS.c.case_id == bindparam("wanted_case_id"),
        TIMERS.c.dispatch_id == bindparam("wanted_dispatch_id"),
    )
    .order_by(TIMERS.c.fire_at)
)


class TimerRepository:
    """Durable escalation timers.

    New timers are inserted together (see TrackedRows); every query first
    writes them, so it sees them.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._rows = TrackedRows(session, TIMERS)

    def add(self, timer: Timer) -> None:
        self._rows.add(_timer_values(timer))

    async def save(self, timer: Timer) -> None:
        await self._rows.save(_timer_values(timer))

    async def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        """Pending timers due by ``now``, locked for this transaction.

        On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several replicas share
        the work without firing one timer twice; on SQLite the unit of work's
        write lock (and the database's own) already makes the claim exclusive.
        """
        await self._rows.write()
        query = (
            sa_select(TIMERS)
            .where(TIMERS.c.status == TimerStatus.PENDING.value, TIMERS.c.fire_at <= now)
            .order_by(TIMERS.c.fire_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_timer(self._rows.seen(row)) for row in await self._rows.execute(query)]

    async def of(self, *, case_id: str, dispatch_id: str | None = None) -> list[Timer]:
        await self._rows.write()
        if dispatch_id is None:
            rows = await self._rows.execute(_TIMERS_OF_CASE, wanted_case_id=case_id)
        else:
            rows = await self._rows.execute(
                _TIMERS_OF_DISPATCH, wanted_case_id=case_id, wanted_dispatch_id=dispatch_id
            )
        return [_timer(self._rows.seen(row)) for row in rows]

    async def cancel(
        self, *, case_id: str, dispatch_id: str | None = None, stage: Stage | None = None
    ) -> int:
        """Cancel pending (or suspended) timers of a case, one of its dispatches or stages."""
        return await self._set(
            TimerStatus.CANCELLED,
            (TimerStatus.PENDING, TimerStatus.SUSPENDED),
            case_id=case_id,
            dispatch_id=dispatch_id,
            stage=stage,
        )

    async def suspend(self, *, case_id: str) -> int:
        """挂账: a case's pending timers stop (kept, to move and re-arm when it resumes)."""
        return await self._set(TimerStatus.SUSPENDED, (TimerStatus.PENDING,), case_id=case_id)

    async def write(self) -> None:
        """Insert the timers added in this transaction (at commit, or before a query)."""
        await self._rows.write()

    def discard(self) -> None:
        self._rows.discard()

    async def _set(
        self,
        status: TimerStatus,
        current: tuple[TimerStatus, ...],
        *,
        case_id: str,
        dispatch_id: str | None = None,
        stage: Stage | None = None,
    ) -> int:
        """One Core UPDATE for the stored timers, the same change in memory for the rest.

        As the ORM's bulk UPDATE did (autoflush first, then "evaluate"): read
        timers with unwritten changes are written first, timers added in this
        transaction and not written yet change in place, and read timers take
        the new status as their stored value.
        """
        statuses = {s.value for s in current}

        def matches(case: str, state: str, dispatch: str, at_stage: str) -> bool:
            return (
                case == case_id
                and state in statuses
                and (dispatch_id is None or dispatch == dispatch_id)
                and (stage is None or at_stage == stage.value)
            )

        changed = 0
        for v in self._rows.pending():
            if matches(v["case_id"], v["status"], v["dispatch_id"], v["stage"]):
                v["status"] = status.value
                changed += 1
        await self._rows.write_changed()
        result = await self._rows.execute(
            _status_update(dispatch_id is not None, stage is not None),
            match_case_id=case_id,
            match_statuses=sorted(statuses),
            match_dispatch_id=dispatch_id,
            match_stage=stage.value if stage is not None else None,
            new_status=status.value,
        )
        for values in self._rows.loaded():
            if matches(values["case_id"], values["status"], values["dispatch_id"], values["stage"]):
                values["status"] = status.value
        return changed + int(result.rowcount or 0)


@cache
def _status_update(by_dispatch: bool, by_stage: bool) -> Update:
    """A timer status change as one prepared statement per shape: built per call,
    the expression was a third of a cancel's cost."""
    statement = update(TIMERS).where(
        TIMERS.c.case_id == bindparam("match_case_id"),
        TIMERS.c.status.in_(bindparam("match_statuses", expanding=True)),
    )
    if by_dispatch:
        statement = statement.where(TIMERS.c.dispatch_id == bindparam("match_dispatch_id"))
    if by_stage:
        statement = statement.where(TIMERS.c.stage == bindparam("match_stage"))
    return statement.values(status=bindparam("new_status"))


def _timer_values(t: Timer) -> Values:
    """Every column of the timer's row."""
    return dict(
        timer_id=t.timer_id,
        case_id=t.case_id,
        dispatch_id=t.dispatch_id,
        department_id=t.department_id,
        stage=t.stage.value,
        kind=t.kind.value,
        level=t.level,
        fire_at=t.fire_at,
        started_at=t.started_at,
        deadline=t.deadline,
        status=t.status.value,
        fired_at=t.fired_at,
    )


def _timer(row: Fields) -> Timer:
    return Timer(
        timer_id=row.timer_id,
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        department_id=row.department_id,
        stage=Stage(row.stage),
        kind=EscalationKind(row.kind),
        level=row.level,
        fire_at=row.fire_at,
        started_at=row.started_at,
        deadline=row.deadline,
        status=TimerStatus(row.status),
        fired_at=row.fired_at,
    )


class ExtensionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, e: Extension) -> None:
        await self._session.merge(
            ExtensionRow(
                extension_id=e.extension_id,
                case_id=e.case_id,
                dispatch_id=e.dispatch_id,
                order_id=e.order_id,
                department_id=e.department_id,
                requested_seconds=e.requested.total_seconds(),
                reason=e.reason,
                requested_at=e.requested_at,
                status=e.status.value,
                granted_seconds=e.granted.total_seconds(),
                new_deadline=e.new_deadline,
                decided_by=e.decided_by,
                decided_at=e.decided_at,
                note=e.note,
            )
        )

    async def get(self, extension_id: str) -> Extension | None:
        row = await self._session.get(ExtensionRow, extension_id)
        return _extension(row) if row else None

    async def pending(self) -> list[Extension]:
        query = (
            select(ExtensionRow)
            .where(ExtensionRow.status == Pending.PENDING.value)
            .order_by(col(ExtensionRow.requested_at))
        )
        return [_extension(row) for row in (await self._session.exec(query)).all()]


def _extension(row: ExtensionRow) -> Extension:
    return Extension(
        extension_id=row.extension_id,
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        order_id=row.order_id,
        department_id=row.department_id,
        requested=timedelta(seconds=row.requested_seconds),
        reason=row.reason,
        requested_at=row.requested_at,
        status=Pending(row.status),
        granted=timedelta(seconds=row.granted_seconds),
        new_deadline=row.new_deadline,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
    )


class ArbitrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, a: Arbitration) -> None:
        await self._session.merge(
            ArbitrationRow(
                arbitration_id=a.arbitration_id,
                case_id=a.case_id,
                requested_at=a.requested_at,
                reason=a.reason,
                returned_by=json.dumps(a.returned_by),
                status=a.status.value,
                outcome=a.outcome.value if a.outcome else "",
                department_id=a.department_id,
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                note=a.note,
                lost_seconds=json.dumps({k: v.total_seconds() for k, v in a.lost.items()}),
            )
        )

    async def pending_for(self, case_id: str) -> Arbitration | None:
        query = select(ArbitrationRow).where(
            ArbitrationRow.case_id == case_id, ArbitrationRow.status == Pending.PENDING.value
        )
        row = (await self._session.exec(query)).first()
        return _arbitration(row) if row else None

    async def pending(self) -> list[Arbitration]:
        query = (
            select(ArbitrationRow)
            .where(ArbitrationRow.status == Pending.PENDING.value)
            .order_by(col(ArbitrationRow.requested_at))
        )
        return [_arbitration(row) for row in (await self._session.exec(query)).all()]


def _arbitration(row: ArbitrationRow) -> Arbitration:
    return Arbitration(
        arbitration_id=row.arbitration_id,
        case_id=row.case_id,
        requested_at=row.requested_at,
        reason=row.reason,
        returned_by=list(json.loads(row.returned_by)),
        status=Pending(row.status),
        outcome=ArbitrationOutcome(row.outcome) if row.outcome else None,
        department_id=row.department_id,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        lost={k: timedelta(seconds=v) for k, v in json.loads(row.lost_seconds).items()},
    )


class SuspensionRepository:
    """挂账 records: at most one open per case."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, s: Suspension) -> None:
        await self._session.merge(
            SuspensionRow(
                suspension_id=s.suspension_id,
                case_id=s.case_id,
                from_state=s.from_state.value,
                from_reason=s.from_reason,
                reason=s.reason,
                backlogged_at=s.backlogged_at,
                backlogged_by=s.backlogged_by,
                resumed_at=s.resumed_at,
                resumed_by=s.resumed_by,
                note=s.note,
            )
        )

    async def get(self, suspension_id: str) -> Suspension | None:
        row = await self._session.get(SuspensionRow, suspension_id)
        return _suspension(row) if row else None

    async def open_for(self, case_id: str) -> Suspension | None:
        query = select(SuspensionRow).where(
            SuspensionRow.case_id == case_id, col(SuspensionRow.resumed_at).is_(None)
        )
        row = (await self._session.exec(query)).first()
        return _suspension(row) if row else None

    async def of_case(self, case_id: str) -> list[Suspension]:
        query = (
            select(SuspensionRow)
            .where(SuspensionRow.case_id == case_id)
            .order_by(col(SuspensionRow.backlogged_at))
        )
        return [_suspension(row) for row in (await self._session.exec(query)).all()]


def _suspension(row: SuspensionRow) -> Suspension:
    return Suspension(
        suspension_id=row.suspension_id,
        case_id=row.case_id,
        from_state=CaseState(row.from_state),
        reason=row.reason,
        backlogged_at=row.backlogged_at,
        backlogged_by=row.backlogged_by,
        from_reason=row.from_reason,
        resumed_at=row.resumed_at,
        resumed_by=row.resumed_by,
        note=row.note,
    )
