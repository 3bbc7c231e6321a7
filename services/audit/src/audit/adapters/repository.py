"""The only code that queries audit's tables; it speaks domain objects."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from audit.adapters.tables import (
    CaseRow,
    DetectionCaseRow,
    DisposerRow,
    LedgerEntryRow,
    VerificationRow,
)
from audit.domain.hashing import GENESIS_HASH
from audit.domain.model import CaseRecord, CaseStatus, LedgerEntry, Party, Verification
from svckit.clock import utcnow

_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))


def _entry(row: LedgerEntryRow) -> LedgerEntry:
    return LedgerEntry(**{name: getattr(row, name) for name in _ENTRY_FIELDS})


class LedgerRepository:
    """Append and read the ledger. There is deliberately no update or delete."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def head(self) -> tuple[int, str]:
        """(sequence, entry_hash) of the last entry; (0, GENESIS_HASH) when empty.

        Read inside the appending transaction: the unique primary key on
        `sequence` makes a concurrent appender (on PostgreSQL) fail and retry
        rather than fork the chain.
        """
        result = await self.session.exec(
            select(LedgerEntryRow.sequence, LedgerEntryRow.entry_hash)
            .order_by(col(LedgerEntryRow.sequence).desc())
            .limit(1)
        )
        last = result.first()
        return (last[0], last[1]) if last else (0, GENESIS_HASH)

    async def has_event(self, event_id: str) -> bool:
        result = await self.session.exec(
            select(LedgerEntryRow.sequence).where(LedgerEntryRow.event_id == event_id)
        )
        return result.first() is not None

    async def append(self, entry: LedgerEntry) -> None:
        self.session.add(LedgerEntryRow(**asdict(entry)))
        await self.session.flush()

    async def link_detections(self, case_id: str, detection_ids: tuple[str, ...]) -> None:
        """Put these detections on the case's timeline (first filing wins)."""
        for detection_id in dict.fromkeys(d for d in detection_ids if d):
            if await self.session.get(DetectionCaseRow, detection_id) is None:
                self.session.add(DetectionCaseRow(detection_id=detection_id, case_id=case_id))
        await self.session.flush()

    async def timeline(self, case_id: str) -> list[LedgerEntry]:
        """The case's entries and those of the detections it was filed from, in order."""
        linked = select(DetectionCaseRow.detection_id).where(DetectionCaseRow.case_id == case_id)
        result = await self.session.exec(
            select(LedgerEntryRow)
            .where(
                or_(
                    col(LedgerEntryRow.case_id) == case_id,
                    col(LedgerEntryRow.detection_id).in_(linked),
                )
            )
            .order_by(col(LedgerEntryRow.sequence))
        )
        return [_entry(row) for row in result.all()]

    async def all_entries(self) -> list[LedgerEntry]:
        """Every entry in storage order (by sequence), for verification."""
        result = await self.session.exec(
            select(LedgerEntryRow).order_by(col(LedgerEntryRow.sequence))
        )
        return [_entry(row) for row in result.all()]


class CaseRepository:
    """Cases' verification status, disposers and verifications."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: str) -> CaseRecord | None:
        """The case, row-locked on PostgreSQL (SQLite serialises writers anyway),
        so a consumer and a gRPC command never overwrite each other's change."""
        row = await self.session.get(CaseRow, case_id, with_for_update=True)
        if row is None:
            return None
        disposers = await self.session.exec(
            select(DisposerRow).where(DisposerRow.case_id == case_id)
        )
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
            disposers=[Party(d.user_id, d.department_id) for d in disposers.all()],
            verification_id=row.verification_id,
            closed_by=closer,
            reason_code=row.reason_code,
            closed_at=row.closed_at,
        )

    async def get_or_new(self, case_id: str) -> CaseRecord:
        return await self.get(case_id) or CaseRecord(case_id=case_id)

    async def save(self, case: CaseRecord) -> None:
        row = await self.session.get(CaseRow, case.case_id)
        if row is None:
            row = CaseRow(case_id=case.case_id, status=case.status.value, updated_at=utcnow())
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
        row.updated_at = utcnow()
        self.session.add(row)
        for disposer in case.disposers:
            key = (case.case_id, disposer.user_id, disposer.department_id)
            if await self.session.get(DisposerRow, key) is None:
                self.session.add(
                    DisposerRow(
                        case_id=case.case_id,
                        user_id=disposer.user_id,
                        department_id=disposer.department_id,
                    )
                )
        await self.session.flush()

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
            )
        )
