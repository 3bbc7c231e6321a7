"""The only code that queries `workorders_evidence`: uploaded files' metadata
(the bytes themselves are in the object store)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workorders.adapters.tables import EvidenceRow
from workorders.domain.evidence import EvidenceItem, EvidenceKind, Flag, FlagCode, PhotoMetadata


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, item: EvidenceItem) -> None:
        self._session.add(EvidenceRow(**_columns(item)))

    async def get(self, evidence_id: str) -> EvidenceItem | None:
        row = await self._session.get(EvidenceRow, evidence_id)
        return _to_domain(row) if row else None

    async def for_orders(self, order_ids: Iterable[str]) -> dict[str, list[EvidenceItem]]:
        """Each order's uploads, oldest first (one query for a whole page of orders)."""
        ids = list(order_ids)
        found: dict[str, list[EvidenceItem]] = {order_id: [] for order_id in ids}
        if not ids:
            return found
        query = (
            select(EvidenceRow)
            .where(col(EvidenceRow.order_id).in_(ids))
            .order_by(col(EvidenceRow.uploaded_at), col(EvidenceRow.evidence_id))
        )
        for row in (await self._session.exec(query)).all():
            found[row.order_id].append(_to_domain(row))
        return found

    async def for_order(self, order_id: str) -> list[EvidenceItem]:
        return (await self.for_orders([order_id]))[order_id]

    async def save_flags(self, item: EvidenceItem) -> None:
        """Flags are the one thing that changes on an upload (integrity found broken)."""
        row = await self._session.get(EvidenceRow, item.evidence_id)
        if row is None:
            raise LookupError(f"evidence {item.evidence_id} was never added")
        row.flags = _flags_json(item.flags)
        self._session.add(row)


def _flags_json(flags: Iterable[Flag]) -> str:
    return json.dumps(
        [{"code": f.code.value, "detail": f.detail} for f in flags], ensure_ascii=False
    )


def _columns(item: EvidenceItem) -> dict[str, Any]:
    return {
        "evidence_id": item.evidence_id,
        "order_id": item.order_id,
        "case_id": item.case_id,
        "department_id": item.department_id,
        "kind": item.kind.value,
        "file_name": item.file_name,
        "media_type": item.media_type,
        "size_bytes": item.size_bytes,
        "sha256": item.sha256,
        "bucket": item.bucket,
        "key": item.key,
        "uploaded_at": item.uploaded_at,
        "uploaded_by": item.uploaded_by,
        "captured_at": item.metadata.captured_at,
        "latitude": item.metadata.latitude,
        "longitude": item.metadata.longitude,
        "flags": _flags_json(item.flags),
    }


def _to_domain(row: EvidenceRow) -> EvidenceItem:
    return EvidenceItem(
        evidence_id=row.evidence_id,
        order_id=row.order_id,
        case_id=row.case_id,
        department_id=row.department_id,
        kind=EvidenceKind(row.kind),
        file_name=row.file_name,
        media_type=row.media_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        bucket=row.bucket,
        key=row.key,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
        metadata=PhotoMetadata(row.captured_at, row.latitude, row.longitude),
        flags=tuple(Flag(FlagCode(f["code"]), f["detail"]) for f in json.loads(row.flags)),
    )
