"""The only code that queries audit's case tables (cases, disposers,
verifications, detections' sources); it speaks domain objects. The ledger's
tables are in `ledger_repository`."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, fields
from functools import cache

from sqlalchemy import Executable, bindparam, or_, union
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from audit.adapters.tables import (
    CaseRow,
    DetectionCaseRow,
    DetectionRow,
    DisposerRow,
    VerificationRow,
)
from audit.domain.machine import CaseSources
from audit.domain.model import (
    CasePlace,
    CaseRecord,
    CaseStatus,
    FreshLook,
    Party,
    Verification,
)
from svckit.clock import utcnow
from svckit.rows import insert_rows


def bounding_box(latitude: float, radius_m: float) -> tuple[float, float]:
    """Half-widths in degrees of latitude and longitude of a box holding every
    point within `radius_m` (generous by 10%, never too tight near the poles)."""
    metres_per_degree = 111_320.0
    dlat = radius_m * 1.1 / metres_per_degree
    dlon = radius_m * 1.1 / (metres_per_degree * max(math.cos(math.radians(latitude)), 0.01))
    return dlat, dlon


_AWAITING = CaseStatus.AWAITING_VERIFICATION.value
_CASE = CaseRow.__table__  # type: ignore[attr-defined]
_LINK = DetectionCaseRow.__table__  # type: ignore[attr-defined]
_DETECTION = DetectionRow.__table__  # type: ignore[attr-defined]

# Cases awaiting verification within a box, whatever their 小类 (compared in
# Python): the status index then leads, where SQLite picked the 小类's index
# and read every case ever filed of it, per look.
_NEARBY = sa_select(_CASE.c.case_id, _CASE.c.category_code).where(
    _CASE.c.status == _AWAITING,
    _CASE.c.latitude.between(bindparam("lat_lo"), bindparam("lat_hi")),
    _CASE.c.longitude.between(bindparam("lon_lo"), bindparam("lon_hi")),
)


@cache
def _same_source_query(identities: tuple[str, ...], unwritten: bool) -> Executable:
    """Cases awaiting verification filed from a detection sharing one of the
    look's `identities` (columns of the detection, bound by name), and, with
    `unwritten`, from one of the detections bound as `unwritten` (not in the
    detection table yet: matched by their links alone)."""
    awaiting = _CASE.c.status == _AWAITING
    query = (
        sa_select(_LINK.c.case_id)
        .select_from(
            _LINK.join(_DETECTION, _DETECTION.c.detection_id == _LINK.c.detection_id).join(
                _CASE, _CASE.c.case_id == _LINK.c.case_id
            )
        )
        .where(or_(*(_DETECTION.c[name] == bindparam(name) for name in identities)), awaiting)
    )
    if not unwritten:
        return query
    by_link = (
        sa_select(_LINK.c.case_id)
        .select_from(_LINK.join(_CASE, _CASE.c.case_id == _LINK.c.case_id))
        .where(_LINK.c.detection_id.in_(bindparam("unwritten", expanding=True)), awaiting)
    )
    # (An outer join to the detection instead made SQLite scan every link.)
    return union(query, by_link) if identities else by_link


class CaseRepository:
    """Cases' verification status, disposers and verifications."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Rows read or created in this transaction: read again without a query,
        # so a batch of events about one case costs one SELECT.
        self._rows: dict[str, CaseRow] = {}
        self._absent: set[str] = set()
        # Disposer rows of cases read in this transaction (kept current by `save`).
        self._disposers: dict[str, list[DisposerRow]] = {}

    async def preload(self, case_ids: Iterable[str]) -> None:
        """Read a batch's cases and their disposers in two `IN` queries, so
        each event's `get` finds them here (row-locked as `get` locks them)."""
        wanted = sorted({c for c in case_ids if c} - self._rows.keys() - self._absent)
        if not wanted:
            return
        with self.session.no_autoflush:
            rows = (
                await self.session.exec(
                    select(CaseRow).where(col(CaseRow.case_id).in_(wanted)).with_for_update()
                )
            ).all()
            disposers = (
                await self.session.exec(
                    select(DisposerRow).where(col(DisposerRow.case_id).in_(wanted))
                )
            ).all()
        self._rows.update((row.case_id, row) for row in rows)
        self._absent.update(set(wanted) - self._rows.keys())
        for case_id in wanted:
            self._disposers[case_id] = []
        for disposer in disposers:
            self._disposers[disposer.case_id].append(disposer)

    async def get(self, case_id: str, *, disposers: bool = True) -> CaseRecord | None:
        """The case, row-locked on PostgreSQL (SQLite serialises writers anyway),
        so a consumer and a gRPC command never overwrite each other's change.
        `disposers=False` skips loading them (recording events that do not
        touch them: one query less per event)."""
        row = self._rows.get(case_id)
        if row is None:
            # No autoflush: a row this transaction has not touched cannot depend
            # on its pending writes, which are then sent together at commit.
            if case_id in self._absent:
                return None
            with self.session.no_autoflush:
                row = await self.session.get(CaseRow, case_id, with_for_update=True)
            if row is None:
                self._absent.add(case_id)
                return None
            self._rows[case_id] = row
        found = await self._disposers_of(case_id) if disposers else []
        closer = (
            Party(row.closed_by_user_id, row.closed_by_department_id, row.closed_by_role)
            if row.closed_by_user_id
            else None
        )
        return CaseRecord(
            case_id=row.case_id,
            status=CaseStatus(row.status),
            origin_traceparent=row.origin_traceparent,
            origin_from_filing=row.origin_from_filing,
            disposers=[Party(d.user_id, d.department_id) for d in found],
            verification_id=row.verification_id,
            closed_by=closer,
            reason_code=row.reason_code,
            closed_at=row.closed_at,
            machine_verified=row.machine_verified,
            place=_place(row),
            completed_at=row.completed_at,
        )

    async def _disposers_of(self, case_id: str) -> list[DisposerRow]:
        if case_id not in self._disposers:
            self._disposers[case_id] = list(
                (
                    await self.session.exec(
                        select(DisposerRow).where(DisposerRow.case_id == case_id)
                    )
                ).all()
            )
        return self._disposers[case_id]

    async def get_or_new(self, case_id: str, *, disposers: bool = True) -> tuple[CaseRecord, bool]:
        """The case, or a new one (and whether it is new)."""
        case = await self.get(case_id, disposers=disposers)
        return (case, False) if case is not None else (CaseRecord(case_id=case_id), True)

    async def save(self, case: CaseRecord) -> None:
        """Written at the next flush (a query that needs it, or the commit)."""
        row = self._rows.get(case.case_id)
        if row is None and case.case_id not in self._absent:
            row = await self.session.get(CaseRow, case.case_id)
        if row is None:
            row = CaseRow(case_id=case.case_id, status=case.status.value, updated_at=utcnow())
        self._rows[case.case_id] = row
        self._absent.discard(case.case_id)
        closer = case.closed_by or Party("")
        values: dict[str, object] = {
            "status": case.status.value,
            "origin_traceparent": case.origin_traceparent,
            "origin_from_filing": case.origin_from_filing,
            "verification_id": case.verification_id,
            "closed_by_user_id": closer.user_id,
            "closed_by_department_id": closer.department_id,
            "closed_by_role": closer.role,
            "reason_code": case.reason_code,
            "closed_at": case.closed_at,
            "machine_verified": case.machine_verified,
            "completed_at": case.completed_at,
        }
        if case.place is not None:
            values["category_code"] = case.place.category_code
            values["latitude"] = case.place.latitude
            values["longitude"] = case.place.longitude
            values["district_code"] = case.place.district_code
        # Only what changed: each assignment goes through SQLModel's and the
        # ORM's instrumentation, and an event changes one or two columns.
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
        row.updated_at = utcnow()
        self.session.add(row)
        if not case.disposers:
            return
        # The case's stored disposers, read once per transaction (`preload`,
        # `get`) and kept current here: a `session.get` per disposer per save
        # was a SELECT, and an autoflush, each time.
        known = await self._disposers_of(case.case_id)
        have = {(d.user_id, d.department_id) for d in known}
        for disposer in case.disposers:
            if (disposer.user_id, disposer.department_id) not in have:
                added = DisposerRow(
                    case_id=case.case_id,
                    user_id=disposer.user_id,
                    department_id=disposer.department_id,
                )
                self.session.add(added)
                known.append(added)
                have.add((disposer.user_id, disposer.department_id))

    def add_verification(self, v: Verification) -> None:
        self.session.add(
            VerificationRow(
                verification_id=v.verification_id,
                case_id=v.case_id,
                verifier_user_id=v.verifier.user_id,
                verifier_department_id=v.verifier.department_id,
                verifier_role=v.verifier.role,
                passed=v.passed,
                note=v.note,
                verified_at=v.verified_at,
                machine_verified=v.machine_verified,
                detection_id=v.detection_id,
            )
        )

    async def awaiting_verification(
        self, look: FreshLook, radius_m: float | None = None, unwritten: Collection[str] = ()
    ) -> list[str]:
        """Cases a fresh look may be about: awaiting verification, and of its
        小类 within `radius_m` of it (None: its 小类 is not machine-verified,
        so only the same source counts), or filed from a detection of the same
        source, device or asset. The radius is a bounding box here, so a city
        with thousands of cases waiting reads only the few nearby; the exact
        distance is the domain's to judge.

        `unwritten`: detections of the same source this transaction recorded
        but has not written yet (`DetectionRepository.unwritten_like`); their
        links count as if they were. The session is flushed first, as the
        ORM's autoflush did, so a case that became awaiting verification
        earlier in this transaction is seen; the statements are built once
        and run on the connection (per look, building them and the ORM's
        execution cost more than the queries)."""
        await self.session.flush()
        connection = await self.session.connection()
        found: set[str] = set()
        if (
            look.category_code
            and radius_m is not None
            and look.latitude is not None
            and look.longitude is not None
        ):
            dlat, dlon = bounding_box(look.latitude, radius_m)
            nearby = await connection.execute(
                _NEARBY,
                {
                    "lat_lo": look.latitude - dlat,
                    "lat_hi": look.latitude + dlat,
                    "lon_lo": look.longitude - dlon,
                    "lon_hi": look.longitude + dlon,
                },
            )
            found = {case_id for case_id, category in nearby if category == look.category_code}
        identities = {
            name: value
            for name, value in (
                ("source_id", look.source_id),
                ("device_id", look.device_id),
                ("component_id", look.component_id),
                ("detection_id", look.detection_id),
            )
            if value
        }
        if identities or unwritten:
            params: dict[str, object] = dict(identities)
            if unwritten:
                params["unwritten"] = sorted(unwritten)
            query = _same_source_query(tuple(identities), bool(unwritten))
            found.update((await connection.execute(query, params)).scalars())
        return sorted(found)


@dataclass(frozen=True)
class _Detection:
    """A recorded detection's source and place (an `audit_detection` row)."""

    detection_id: str
    source_id: str = ""
    device_id: str = ""
    component_id: str = ""
    category_code: str = ""
    latitude: float | None = None
    longitude: float | None = None

    def shares_source(self, look: FreshLook) -> bool:
        """The same-source test `CaseRepository.awaiting_verification` runs in SQL."""
        return (
            self.detection_id == look.detection_id
            or bool(look.source_id and self.source_id == look.source_id)
            or bool(look.device_id and self.device_id == look.device_id)
            or bool(look.component_id and self.component_id == look.component_id)
        )


_DETECTION_COLUMNS = [_DETECTION.c[f.name] for f in fields(_Detection)]


class DetectionRepository:
    """Recorded detections' sources and places (for machine verification).

    Detections this transaction records are kept here and written with one
    multi-row INSERT at commit (`write_pending`), not flushed one by one: the
    queries that could need them are told which they are
    (`unwritten_like`, `sources`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Detections read ahead for a batch (`preload`) or recorded in this
        # transaction: None, not recorded.
        self._known: dict[str, _Detection | None] = {}
        # Recorded in this transaction, not written yet.
        self._unwritten: dict[str, _Detection] = {}

    async def preload(self, detection_ids: Iterable[str]) -> None:
        """A batch's recorded detections in one `IN` query (one `get` each before)."""
        wanted = sorted({d for d in detection_ids if d} - self._known.keys())
        if not wanted:
            return
        # Not through the ORM: nothing of this table is pending in the session
        # (new rows wait in `_unwritten`), and plain rows are cheaper.
        connection = await self.session.connection()
        rows = await connection.execute(
            sa_select(*_DETECTION_COLUMNS).where(_DETECTION.c.detection_id.in_(wanted))
        )
        found = {row.detection_id: _Detection(*row) for row in rows}
        self._known.update((d, found.get(d)) for d in wanted)

    async def _get(self, detection_id: str) -> _Detection | None:
        if detection_id not in self._known:
            await self.preload([detection_id])
        return self._known.get(detection_id)

    async def remember(self, look: FreshLook) -> None:
        if await self._get(look.detection_id) is None:
            row = _Detection(
                detection_id=look.detection_id,
                source_id=look.source_id,
                device_id=look.device_id,
                component_id=look.component_id,
                category_code=look.category_code,
                latitude=look.latitude,
                longitude=look.longitude,
            )
            self._known[look.detection_id] = row
            self._unwritten[look.detection_id] = row

    def unwritten_like(self, look: FreshLook) -> list[str]:
        """Detections recorded in this transaction, not written yet, that share
        the look's source, device, asset or detection: the links of these
        count for `CaseRepository.awaiting_verification` as if written."""
        return sorted(d for d, row in self._unwritten.items() if row.shares_source(look))

    async def write_pending(self) -> None:
        """Write this transaction's new detections (before commit)."""
        if self._unwritten:
            connection = await self.session.connection()
            await insert_rows(connection, _DETECTION, [asdict(r) for r in self._unwritten.values()])
            self._unwritten = {}

    async def sources(self, case_id: str) -> CaseSources:
        """The sources of the detections the case was filed from."""
        result = await self.session.exec(
            select(DetectionCaseRow.detection_id, DetectionRow)
            .join(
                DetectionRow,
                col(DetectionRow.detection_id) == col(DetectionCaseRow.detection_id),
                isouter=True,
            )
            .where(DetectionCaseRow.case_id == case_id)
        )
        rows = result.all()
        known: list[DetectionRow | _Detection] = [
            d if d is not None else self._unwritten[detection_id]
            for detection_id, d in rows
            if d is not None or detection_id in self._unwritten
        ]
        return CaseSources(
            detection_ids=frozenset(detection_id for detection_id, _ in rows),
            source_ids=frozenset(d.source_id for d in known if d.source_id),
            device_ids=frozenset(d.device_id for d in known if d.device_id),
            component_ids=frozenset(d.component_id for d in known if d.component_id),
        )

    async def completed_look(self, look: FreshLook) -> FreshLook:
        """A withdrawal names only its detection: fill in that detection's
        source and place from when it was reported."""
        row = await self._get(look.detection_id)
        if row is None:
            return look
        return FreshLook(
            detection_id=look.detection_id,
            at=look.at,
            source_id=row.source_id,
            device_id=row.device_id,
            component_id=row.component_id,
            category_code=row.category_code,
            latitude=row.latitude,
            longitude=row.longitude,
            confidence=look.confidence,
            absent=look.absent,
        )


def _place(row: CaseRow) -> CasePlace | None:
    if not row.category_code:
        return None
    return CasePlace(row.category_code, row.latitude, row.longitude, row.district_code)
