"""The fusion index table: open cases by 小类 and grid cell, or by component.

A lookup reads the cells the search circle's bounding box touches (a range on
the (category_code, cell_row, cell_col) index) plus, for component 小类, the
rows with the same component key; `fusion.best_match` decides among them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import FusionEntryRow
from intake.domain.fusion import CellRange, FusionEntry, Sighting, search_range
from intake.domain.policy import FusionRule


def _to_entry(row: FusionEntryRow) -> FusionEntry:
    return FusionEntry(
        case_id=row.case_id,
        category_code=row.category_code,
        first_observed_at=row.first_observed_at,
        last_observed_at=row.last_observed_at,
        latitude=row.latitude,
        longitude=row.longitude,
        component_key=row.component_key,
    )


def _values(entry: FusionEntry) -> dict[str, Any]:
    cell = entry.cell
    return {
        "category_code": entry.category_code,
        "cell_row": cell.row if cell else None,
        "cell_col": cell.col if cell else None,
        "latitude": entry.latitude,
        "longitude": entry.longitude,
        "component_key": entry.component_key,
        "first_observed_at": entry.first_observed_at,
        "last_observed_at": entry.last_observed_at,
    }


def _may_match(row: FusionEntryRow, sighting: Sighting, box: CellRange | None) -> bool:
    """The in-memory twin of `candidates`' WHERE clause, for rows not yet flushed."""
    if row.category_code != sighting.category_code:
        return False
    if sighting.component_key and row.component_key == sighting.component_key:
        return True
    return (
        box is not None
        and row.cell_row is not None
        and row.cell_col is not None
        and box.row_min <= row.cell_row <= box.row_max
        and box.col_min <= row.cell_col <= box.col_max
    )


class FusionIndex:
    """The index; entries added in this transaction are found before they are flushed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._new: dict[str, FusionEntryRow] = {}

    async def candidates(self, sighting: Sighting, rule: FusionRule) -> list[FusionEntry]:
        """Open cases of the sighting's 小类 near it or about the same component."""
        near: list[ColumnElement[bool]] = []
        box = None
        if sighting.located:
            assert sighting.latitude is not None and sighting.longitude is not None
            box = search_range(sighting.latitude, sighting.longitude, rule.radius_m)
            near.append(
                col(FusionEntryRow.cell_row).between(box.row_min, box.row_max)
                & col(FusionEntryRow.cell_col).between(box.col_min, box.col_max)
            )
        if sighting.component_key:
            near.append(col(FusionEntryRow.component_key) == sighting.component_key)
        if not near:
            return []
        rows = await self.session.exec(
            select(FusionEntryRow).where(
                col(FusionEntryRow.category_code) == sighting.category_code, or_(*near)
            )
        )
        found = {r.case_id: r for r in rows.all()}
        found.update((k, r) for k, r in self._new.items() if _may_match(r, sighting, box))
        return [_to_entry(r) for r in found.values()]

    async def _row(self, case_id: str) -> FusionEntryRow | None:
        return self._new.get(case_id) or await self.session.get(FusionEntryRow, case_id)

    async def get(self, case_id: str) -> FusionEntry | None:
        row = await self._row(case_id)
        return _to_entry(row) if row else None

    def add(self, entry: FusionEntry) -> None:
        """The entry of a case opened in this transaction."""
        row = FusionEntryRow(case_id=entry.case_id, **_values(entry))
        self.session.add(row)
        self._new[entry.case_id] = row

    async def put(self, entry: FusionEntry) -> None:
        """Replace a case's entry (its span grew, its 小类 changed)."""
        row = await self._row(entry.case_id)
        if row is None:
            self.add(entry)
            return
        for name, value in _values(entry).items():
            setattr(row, name, value)
        self.session.add(row)

    async def forget(self, case_id: str) -> None:
        """The case can no longer be joined (closed, rejected, merged)."""
        row = await self._row(case_id)
        if row is not None:
            await self.session.delete(row)
        self._new.pop(case_id, None)
