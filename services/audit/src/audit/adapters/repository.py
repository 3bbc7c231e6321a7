"""The only code that queries audit's case tables (cases, disposers,
verifications, detections' sources); it speaks domain objects. The ledger's
tables are in `ledger_repository`."""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import or_
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


def bounding_box(latitude: float, radius_m: float) -> tuple[float, float]:
    """Half-widths in degrees of latitude and longitude of a box holding every
    point within `radius_m` (generous by 10%, never too tight near the poles)."""
    metres_per_degree = 111_320.0
    dlat = radius_m * 1.1 / metres_per_degree
    dlon = radius_m * 1.1 / (metres_per_degree * max(math.cos(math.radians(latitude)), 0.01))
    return dlat, dlon


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
        row.status = case.status.value
        row.origin_traceparent = case.origin_traceparent
        row.origin_from_filing = case.origin_from_filing
        row.verification_id = case.verification_id
        row.closed_by_user_id = closer.user_id
        row.closed_by_department_id = closer.department_id
        row.closed_by_role = closer.role
        row.reason_code = case.reason_code
        row.closed_at = case.closed_at
        row.machine_verified = case.machine_verified
        row.completed_at = case.completed_at
        if case.place is not None:
            row.category_code = case.place.category_code
            row.latitude, row.longitude = case.place.latitude, case.place.longitude
            row.district_code = case.place.district_code
        row.updated_at = utcnow()
        self.session.add(row)
        for disposer in case.disposers:
            key = (case.case_id, disposer.user_id, disposer.department_id)
            if await self.session.get(DisposerRow, key) is None:
                added = DisposerRow(
                    case_id=case.case_id,
                    user_id=disposer.user_id,
                    department_id=disposer.department_id,
                )
                self.session.add(added)
                if case.case_id in self._disposers:
                    self._disposers[case.case_id].append(added)

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
        self, look: FreshLook, radius_m: float | None = None
    ) -> list[str]:
        """Cases a fresh look may be about: awaiting verification, and of its
        小类 within `radius_m` of it (None: its 小类 is not machine-verified,
        so only the same source counts), or filed from a detection of the same
        source, device or asset. The radius is a bounding box here, so a city
        with thousands of cases waiting reads only the few nearby; the exact
        distance is the domain's to judge."""
        awaiting = CaseStatus.AWAITING_VERIFICATION.value
        found: set[str] = set()
        if (
            look.category_code
            and radius_m is not None
            and look.latitude is not None
            and look.longitude is not None
        ):
            dlat, dlon = bounding_box(look.latitude, radius_m)
            by_category = select(CaseRow.case_id).where(
                CaseRow.status == awaiting,
                CaseRow.category_code == look.category_code,
                col(CaseRow.latitude).between(look.latitude - dlat, look.latitude + dlat),
                col(CaseRow.longitude).between(look.longitude - dlon, look.longitude + dlon),
            )
            found = set((await self.session.exec(by_category)).all())
        same_source = [
            column == value
            for column, value in (
                (col(DetectionRow.source_id), look.source_id),
                (col(DetectionRow.device_id), look.device_id),
                (col(DetectionRow.component_id), look.component_id),
                (col(DetectionRow.detection_id), look.detection_id),
            )
            if value
        ]
        if same_source:
            # One query for all of the look's identities (one per identity cost
            # up to four statements per detection).
            query = (
                select(DetectionCaseRow.case_id)
                .join(
                    DetectionRow,
                    col(DetectionRow.detection_id) == col(DetectionCaseRow.detection_id),
                )
                .join(CaseRow, col(CaseRow.case_id) == col(DetectionCaseRow.case_id))
                .where(or_(*same_source), CaseRow.status == awaiting)
            )
            found |= set((await self.session.exec(query)).all())
        return sorted(found)

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
        known = [d for _, d in rows if d is not None]
        return CaseSources(
            detection_ids=frozenset(detection_id for detection_id, _ in rows),
            source_ids=frozenset(d.source_id for d in known if d.source_id),
            device_ids=frozenset(d.device_id for d in known if d.device_id),
            component_ids=frozenset(d.component_id for d in known if d.component_id),
        )


class DetectionRepository:
    """Recorded detections' sources and places (for machine verification)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Detections read ahead for a batch (`preload`): None, not recorded then.
        self._known: dict[str, DetectionRow | None] = {}

    async def preload(self, detection_ids: Iterable[str]) -> None:
        """A batch's recorded detections in one `IN` query (one `get` each before)."""
        wanted = sorted({d for d in detection_ids if d} - self._known.keys())
        if not wanted:
            return
        rows = (
            await self.session.exec(
                select(DetectionRow).where(col(DetectionRow.detection_id).in_(wanted))
            )
        ).all()
        found = {row.detection_id: row for row in rows}
        self._known.update((d, found.get(d)) for d in wanted)

    async def _get(self, detection_id: str) -> DetectionRow | None:
        if detection_id in self._known:
            return self._known[detection_id]
        return await self.session.get(DetectionRow, detection_id)

    async def remember(self, look: FreshLook) -> None:
        if await self._get(look.detection_id) is None:
            row = DetectionRow(
                detection_id=look.detection_id,
                source_id=look.source_id,
                device_id=look.device_id,
                component_id=look.component_id,
                category_code=look.category_code,
                latitude=look.latitude,
                longitude=look.longitude,
            )
            self.session.add(row)
            self._known[look.detection_id] = row
            await self.session.flush()

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
