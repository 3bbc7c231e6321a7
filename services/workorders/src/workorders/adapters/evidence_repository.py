"""The only code that queries `workorders_evidence`: uploaded files' metadata
(the bytes themselves are in the object store).

Rows are read and written with Core over plain mappings, as orders are (see
repository.py): an upload waits here, where reads find it, and reaches the
table at commit. A transaction remembers each order's uploads once read, since
a completion reads them to check and again to answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit.rows import insert_rows
from workorders.adapters.tables import EvidenceRow
from workorders.domain.evidence import EvidenceItem, EvidenceKind, Flag, FlagCode, PhotoMetadata

EVIDENCE: Table = EvidenceRow.__table__  # type: ignore[attr-defined]

_BY_ID = select(EVIDENCE).where(EVIDENCE.c.evidence_id == bindparam("evidence_id"))
_OF_ORDERS = (
    select(EVIDENCE)
    .where(EVIDENCE.c.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(EVIDENCE.c.uploaded_at, EVIDENCE.c.evidence_id)
)
_SET_FLAGS = (
    update(EVIDENCE)
    .where(EVIDENCE.c.evidence_id == bindparam("key_"))
    .values(flags=bindparam("flags"))
)


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Uploads added in this transaction, not yet written.
        self._to_insert: dict[str, EvidenceItem] = {}
        # Each order's uploads as this transaction knows them, oldest first.
        self._of_order: dict[str, list[EvidenceItem]] = {}

    def add(self, item: EvidenceItem) -> None:
        self._to_insert[item.evidence_id] = item
        known = self._of_order.get(item.order_id)
        if known is not None:
            known.append(item)
            known.sort(key=_upload_order)

    async def get(self, evidence_id: str) -> EvidenceItem | None:
        pending = self._to_insert.get(evidence_id)
        if pending is not None:
            return pending
        connection = await self._session.connection()
        row = (await connection.execute(_BY_ID, {"evidence_id": evidence_id})).first()
        return _to_domain(row._mapping) if row else None

    async def for_orders(self, order_ids: Iterable[str]) -> dict[str, list[EvidenceItem]]:
        """Each order's uploads, oldest first (one query for a whole page of orders)."""
        ids = list(dict.fromkeys(order_ids))
        unknown = [order_id for order_id in ids if order_id not in self._of_order]
        if unknown:
            found: dict[str, list[EvidenceItem]] = {order_id: [] for order_id in unknown}
            connection = await self._session.connection()
            for row in await connection.execute(_OF_ORDERS, {"order_ids": unknown}):
                found[row.order_id].append(_to_domain(row._mapping))
            for item in self._to_insert.values():
                if item.order_id in found:
                    found[item.order_id].append(item)
                    found[item.order_id].sort(key=_upload_order)
            self._of_order.update(found)
        return {order_id: list(self._of_order[order_id]) for order_id in ids}

    async def for_order(self, order_id: str) -> list[EvidenceItem]:
        return (await self.for_orders([order_id]))[order_id]

    async def save_flags(self, item: EvidenceItem) -> None:
        """Flags are the one thing that changes on an upload (integrity found broken)."""
        if item.evidence_id in self._to_insert:
            self._to_insert[item.evidence_id] = item
        else:
            connection = await self._session.connection()
            changed = await connection.execute(
                _SET_FLAGS, {"key_": item.evidence_id, "flags": _flags_json(item.flags)}
            )
            if changed.rowcount != 1:
                raise LookupError(f"evidence {item.evidence_id} was never added")
        known = self._of_order.get(item.order_id)
        if known is not None:
            self._of_order[item.order_id] = [
                item if k.evidence_id == item.evidence_id else k for k in known
            ]

    async def write_pending(self) -> None:
        """Send this transaction's uploads to the database."""
        if not self._to_insert:
            return
        connection = await self._session.connection()
        await insert_rows(connection, EVIDENCE, [_columns(i) for i in self._to_insert.values()])
        self._to_insert.clear()


def _upload_order(item: EvidenceItem) -> tuple[Any, str]:
    return item.uploaded_at, item.evidence_id


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


def _to_domain(row: Mapping[Any, Any]) -> EvidenceItem:
    return EvidenceItem(
        evidence_id=row["evidence_id"],
        order_id=row["order_id"],
        case_id=row["case_id"],
        department_id=row["department_id"],
        kind=EvidenceKind(row["kind"]),
        file_name=row["file_name"],
        media_type=row["media_type"],
        size_bytes=row["size_bytes"],
        sha256=row["sha256"],
        bucket=row["bucket"],
        key=row["key"],
        uploaded_at=row["uploaded_at"],
        uploaded_by=row["uploaded_by"],
        metadata=PhotoMetadata(row["captured_at"], row["latitude"], row["longitude"]),
        flags=tuple(Flag(FlagCode(f["code"]), f["detail"]) for f in json.loads(row["flags"])),
    )
