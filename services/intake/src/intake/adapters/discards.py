"""Discarded detections: recorded so what intake ignored can be counted and audited."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import DiscardRow
from intake.domain.detections import Discard, DiscardReason


def _to_discard(row: DiscardRow) -> Discard:
    return Discard(
        detection_id=row.detection_id,
        category_code=row.category_code,
        confidence=row.confidence,
        threshold=row.threshold,
        reason=DiscardReason(row.reason),
        note=row.note,
        source_id=row.source_id,
        source_kind=row.source_kind,
        discarded_at=row.discarded_at,
        idempotency_key=row.idempotency_key,
    )


class DiscardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._new: set[str] = set()

    def recorded_here(self, detection_id: str) -> bool:
        """Discarded earlier in this transaction (not yet flushed)."""
        return detection_id in self._new

    def add(self, discard: Discard) -> None:
        self._new.add(discard.detection_id)
        self.session.add(
            DiscardRow(
                detection_id=discard.detection_id,
                idempotency_key=discard.idempotency_key,
                category_code=discard.category_code,
                confidence=discard.confidence,
                threshold=discard.threshold,
                reason=discard.reason.value,
                note=discard.note,
                source_id=discard.source_id,
                source_kind=discard.source_kind,
                discarded_at=discard.discarded_at,
            )
        )

    async def get(self, detection_id: str) -> Discard | None:
        row = await self.session.get(DiscardRow, detection_id)
        return _to_discard(row) if row else None

    async def page(self, offset: int, limit: int) -> tuple[list[Discard], int]:
        """Newest first, and how many there are in all."""
        total = (await self.session.exec(select(func.count()).select_from(DiscardRow))).one()
        rows = await self.session.exec(
            select(DiscardRow)
            .order_by(col(DiscardRow.discarded_at).desc(), col(DiscardRow.detection_id).desc())
            .offset(offset)
            .limit(limit)
        )
        return [_to_discard(r) for r in rows.all()], total

    async def count_by_reason(self) -> dict[str, int]:
        rows = await self.session.exec(
            select(DiscardRow.reason, func.count()).group_by(col(DiscardRow.reason))
        )
        return {reason: n for reason, n in rows.all()}
