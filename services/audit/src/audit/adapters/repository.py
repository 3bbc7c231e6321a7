"""The only code that queries audit's case tables (cases, disposers,
verifications, detections' sources); it speaks domain objects. The ledger's
tables are in `ledger_repository`."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from typing import Any

from sqlalchemy import Executable, bindparam, or_, union
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from audit.adapters.ledger_repository import WriteLinks
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
from svckit.rows import insert_rows, rewrite_rows


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
_DISPOSER = DisposerRow.__table__  # type: ignore[attr-defined]
_VERIFICATION = VerificationRow.__table__  # type: ignore[attr-defined]
_DISPOSERS_OF = sa_select(_DISPOSER.c.case_id, _DISPOSER.c.user_id, _DISPOSER.c.department_id)
# One case's row and its disposers, as the gRPC commands read them: built once
# (building a statement per call cost about as much as running it).
_CASE_BY_ID = sa_select(_CASE).where(_CASE.c.case_id == bindparam("case_id")).with_for_update()
_DISPOSERS_OF_CASE = _DISPOSERS_OF.where(_DISPOSER.c.case_id == bindparam("case_id"))
_CASES_BY_IDS = (
    sa_select(_CASE)
    .where(_CASE.c.case_id.in_(bindparam("case_ids", expanding=True)))
    .with_for_update()
)
_DISPOSERS_OF_CASES = _DISPOSERS_OF.where(
    _DISPOSER.c.case_id.in_(bindparam("case_ids", expanding=True))
)
# A case's linked detections and, where recorded, their sources (`recorded`
# is None for a link whose detection audit has not recorded).
_SOURCES = (
    sa_select(
        _LINK.c.detection_id,
        _DETECTION.c.detection_id.label("recorded"),
        _DETECTION.c.source_id,
        _DETECTION.c.device_id,
        _DETECTION.c.component_id,
    )
    .select_from(_LINK.outerjoin(_DETECTION, _DETECTION.c.detection_id == _LINK.c.detection_id))
    .where(_LINK.c.case_id == bindparam("case_id"))
)

# The columns `CaseRepository.save` leaves alone on a new case (a case filed
# without a place): their defaults, as the table has them.
_NEW_ROW: dict[str, Any] = {
    "category_code": "",
    "latitude": None,
    "longitude": None,
    "district_code": "",
}

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
    """Cases' verification status, disposers and verifications.

    Rows are read and written with Core statements over plain mappings, not
    ORM objects (every recorded event reads and rewrites its case; the ORM's
    per-object bookkeeping cost more than the statements). What this
    transaction saves waits here, where `get` finds it, and reaches the
    tables in one executemany per kind at commit (`write_pending`), or
    before a query that must see it (`awaiting_verification`)."""

    def __init__(self, session: AsyncSession, write_links: WriteLinks | None = None) -> None:
        self.session = session
        self._write_links = write_links
        # Column values of each case read or saved in this transaction: read
        # again without a query, so a batch of events about one case costs one
        # SELECT (and the row lock is taken once).
        self._cases: dict[str, dict[str, Any]] = {}
        self._absent: set[str] = set()
        # Saved, not written yet: new rows, changed rows, and those of either
        # that await verification (a look's query must see these).
        self._to_insert: set[str] = set()
        self._to_update: set[str] = set()
        self._awaiting: set[str] = set()
        # (user, department) of the disposers of cases read in this
        # transaction (kept current by `save`); new ones, and new
        # verifications, as rows to insert.
        self._disposers: dict[str, list[tuple[str, str]]] = {}
        self._disposers_to_insert: list[dict[str, Any]] = []
        self._verifications_to_insert: list[dict[str, Any]] = []

    async def preload(self, case_ids: Iterable[str]) -> None:
        """Read a batch's cases and their disposers in two `IN` queries, so
        each event's `get` finds them here (row-locked as `get` locks them)."""
        wanted = sorted({c for c in case_ids if c} - self._cases.keys() - self._absent)
        if not wanted:
            return
        connection = await self.session.connection()
        rows = await connection.execute(_CASES_BY_IDS, {"case_ids": wanted})
        for row in rows:
            self._cases[row.case_id] = dict(row._mapping)
        self._absent.update(set(wanted) - self._cases.keys())
        for case_id in wanted:
            self._disposers[case_id] = []
        disposers = await connection.execute(_DISPOSERS_OF_CASES, {"case_ids": wanted})
        for case_id, user_id, department_id in disposers:
            self._disposers[case_id].append((user_id, department_id))

    async def _row(self, case_id: str) -> dict[str, Any] | None:
        """The case's columns: saved or read in this transaction, or read now
        (row-locked on PostgreSQL; SQLite serialises writers anyway)."""
        if case_id in self._cases:
            return self._cases[case_id]
        if case_id in self._absent:
            return None
        connection = await self.session.connection()
        found = (await connection.execute(_CASE_BY_ID, {"case_id": case_id})).first()
        if found is None:
            self._absent.add(case_id)
            return None
        row = self._cases[case_id] = dict(found._mapping)
        return row

    async def get(self, case_id: str, *, disposers: bool = True) -> CaseRecord | None:
        """The case, row-locked on PostgreSQL (SQLite serialises writers anyway),
        so a consumer and a gRPC command never overwrite each other's change.
        `disposers=False` skips loading them (recording events that do not
        touch them: one query less per event)."""
        row = await self._row(case_id)
        if row is None:
            return None
        found = await self._disposers_of(case_id) if disposers else []
        closer = (
            Party(row["closed_by_user_id"], row["closed_by_department_id"], row["closed_by_role"])
            if row["closed_by_user_id"]
            else None
        )
        return CaseRecord(
            case_id=row["case_id"],
            status=CaseStatus(row["status"]),
            origin_traceparent=row["origin_traceparent"],
            origin_from_filing=row["origin_from_filing"],
            disposers=[Party(user_id, department_id) for user_id, department_id in found],
            verification_id=row["verification_id"],
            closed_by=closer,
            reason_code=row["reason_code"],
            closed_at=row["closed_at"],
            machine_verified=row["machine_verified"],
            place=_place(row),
            completed_at=row["completed_at"],
        )

    async def _disposers_of(self, case_id: str) -> list[tuple[str, str]]:
        if case_id not in self._disposers:
            connection = await self.session.connection()
            rows = await connection.execute(_DISPOSERS_OF_CASE, {"case_id": case_id})
            self._disposers[case_id] = [
                (user_id, department_id) for _, user_id, department_id in rows
            ]
        return self._disposers[case_id]

    async def get_or_new(self, case_id: str, *, disposers: bool = True) -> tuple[CaseRecord, bool]:
        """The case, or a new one (and whether it is new)."""
        case = await self.get(case_id, disposers=disposers)
        return (case, False) if case is not None else (CaseRecord(case_id=case_id), True)

    async def save(self, case: CaseRecord) -> None:
        """Kept here (`get` sees it) and written by `write_pending`."""
        stored = await self._row(case.case_id)
        closer = case.closed_by or Party("")
        row: dict[str, Any] = dict(stored) if stored is not None else dict(_NEW_ROW)
        row.update(
            case_id=case.case_id,
            status=case.status.value,
            origin_traceparent=case.origin_traceparent,
            origin_from_filing=case.origin_from_filing,
            verification_id=case.verification_id,
            closed_by_user_id=closer.user_id,
            closed_by_department_id=closer.department_id,
            closed_by_role=closer.role,
            reason_code=case.reason_code,
            closed_at=case.closed_at,
            machine_verified=case.machine_verified,
            completed_at=case.completed_at,
            updated_at=utcnow(),
        )
        if case.place is not None:
            row.update(
                category_code=case.place.category_code,
                latitude=case.place.latitude,
                longitude=case.place.longitude,
                district_code=case.place.district_code,
            )
        self._cases[case.case_id] = row
        if stored is None:
            self._absent.discard(case.case_id)
            self._to_insert.add(case.case_id)
        elif case.case_id not in self._to_insert:
            self._to_update.add(case.case_id)
        if row["status"] == _AWAITING:
            self._awaiting.add(case.case_id)
        else:
            self._awaiting.discard(case.case_id)
        if not case.disposers:
            return
        # The case's stored disposers, read once per transaction (`preload`,
        # `get`) and kept current here: a read per disposer per save was a
        # SELECT each time.
        known = await self._disposers_of(case.case_id)
        for disposer in case.disposers:
            key = (disposer.user_id, disposer.department_id)
            if key not in known:
                known.append(key)
                self._disposers_to_insert.append(
                    {"case_id": case.case_id, "user_id": key[0], "department_id": key[1]}
                )

    def add_verification(self, v: Verification) -> None:
        """Written by `write_pending` (nothing in this service reads them back)."""
        self._verifications_to_insert.append(
            {
                "verification_id": v.verification_id,
                "case_id": v.case_id,
                "verifier_user_id": v.verifier.user_id,
                "verifier_department_id": v.verifier.department_id,
                "verifier_role": v.verifier.role,
                "passed": v.passed,
                "note": v.note,
                "verified_at": v.verified_at,
                "machine_verified": v.machine_verified,
                "detection_id": v.detection_id,
            }
        )

    async def write_pending(self) -> None:
        """Send this transaction's new and changed cases, new disposers and
        verifications to the database: at commit, and before a query that
        must see them."""
        connection = await self.session.connection()
        await insert_rows(connection, _CASE, [self._cases[c] for c in sorted(self._to_insert)])
        await rewrite_rows(
            connection, _CASE, "case_id", [self._cases[c] for c in sorted(self._to_update)]
        )
        await insert_rows(connection, _DISPOSER, self._disposers_to_insert)
        await insert_rows(connection, _VERIFICATION, self._verifications_to_insert)
        self._to_insert.clear()
        self._to_update.clear()
        self._awaiting.clear()
        self._disposers_to_insert = []
        self._verifications_to_insert = []

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
        links count as if they were. The ledger repository writes the links
        it holds first, so the queries see this transaction's
        links; saved cases are written first only if one of them awaits
        verification (it became so earlier in this transaction, or changed
        place): the stored state of the others may still say "awaiting", so
        those found are dropped, as their saved status is not. The statements
        are built once and run on the connection (per look, building them and
        the ORM's execution cost more than the queries)."""
        if self._awaiting:
            await self.write_pending()
        if self._write_links is not None:
            await self._write_links()
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
        # Saved and unwritten now means no longer awaiting (see above).
        return sorted(found - self._to_update - self._to_insert)


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

    def __init__(self, session: AsyncSession, write_links: WriteLinks | None = None) -> None:
        self.session = session
        self._write_links = write_links
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
        if self._write_links is not None:
            await self._write_links()
        connection = await self.session.connection()
        rows = (await connection.execute(_SOURCES, {"case_id": case_id})).all()
        known: list[Any] = [
            row if row.recorded is not None else self._unwritten[row.detection_id]
            for row in rows
            if row.recorded is not None or row.detection_id in self._unwritten
        ]
        return CaseSources(
            detection_ids=frozenset(row.detection_id for row in rows),
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


def _place(row: Mapping[str, Any]) -> CasePlace | None:
    if not row["category_code"]:
        return None
    return CasePlace(row["category_code"], row["latitude"], row["longitude"], row["district_code"])
