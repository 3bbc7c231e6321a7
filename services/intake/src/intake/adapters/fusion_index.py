"""The fusion index table: open cases by 小类 and grid cell, or by component.

A lookup reads the cells the search circle's bounding box touches (a range on
the (category_code, cell_row, cell_col) index) plus, for component 小类, the
rows with the same component key; `fusion.best_match` decides among them.

Every detection reads the index and most change it, so it is read and written
with Core statements, not ORM objects: this transaction's changes wait in
memory (lookups see them) and reach the table in two statements at commit
(`write_pending`, called by the unit of work).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import FusionEntryRow
from intake.domain.fusion import CellRange, FusionEntry, Sighting, search_range
from intake.domain.policy import FusionRule
from svckit.rows import insert_rows

TABLE: Table = FusionEntryRow.__table__  # type: ignore[attr-defined]


_BY_CASE = select(TABLE).where(TABLE.c.case_id == bindparam("case_id"))
_DROP_CASES = delete(TABLE).where(TABLE.c.case_id.in_(bindparam("case_ids", expanding=True)))


@cache
def _candidates_query(located: bool, component: bool) -> Select[Any]:
    """The look-up for a sighting with a place, a component, or both (built
    once per shape: every detection asks it)."""
    near: list[ColumnElement[bool]] = []
    if located:
        near.append(
            TABLE.c.cell_row.between(bindparam("row_min"), bindparam("row_max"))
            & TABLE.c.cell_col.between(bindparam("col_min"), bindparam("col_max"))
        )
    if component:
        near.append(TABLE.c.component_key == bindparam("component_key"))
    return select(TABLE).where(TABLE.c.category_code == bindparam("category_code"), or_(*near))


def _to_entry(row: Mapping[Any, Any]) -> FusionEntry:
    return FusionEntry(
        case_id=row["case_id"],
        category_code=row["category_code"],
        first_observed_at=row["first_observed_at"],
        last_observed_at=row["last_observed_at"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        component_key=row["component_key"],
    )


def _values(entry: FusionEntry) -> dict[str, Any]:
    cell = entry.cell
    return {
        "case_id": entry.case_id,
        "category_code": entry.category_code,
        "cell_row": cell.row if cell else None,
        "cell_col": cell.col if cell else None,
        "latitude": entry.latitude,
        "longitude": entry.longitude,
        "component_key": entry.component_key,
        "first_observed_at": entry.first_observed_at,
        "last_observed_at": entry.last_observed_at,
    }


def _may_match(entry: FusionEntry, sighting: Sighting, box: CellRange | None) -> bool:
    """The in-memory twin of `candidates`' WHERE clause, for entries not yet written."""
    if entry.category_code != sighting.category_code:
        return False
    if sighting.component_key and entry.component_key == sighting.component_key:
        return True
    cell = entry.cell
    return (
        box is not None
        and cell is not None
        and box.row_min <= cell.row <= box.row_max
        and box.col_min <= cell.col <= box.col_max
    )


class FusionIndex:
    """The index; this transaction's changes are found before they are written."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Changed in this transaction, by case: the entry now, or None if forgotten.
        self._pending: dict[str, FusionEntry | None] = {}

    async def candidates(self, sighting: Sighting, rule: FusionRule) -> list[FusionEntry]:
        """Open cases of the sighting's 小类 near it or about the same component."""
        box = None
        params: dict[str, Any] = {"category_code": sighting.category_code}
        if sighting.located:
            assert sighting.latitude is not None and sighting.longitude is not None
            box = search_range(sighting.latitude, sighting.longitude, rule.radius_m)
            params |= {
                "row_min": box.row_min,
                "row_max": box.row_max,
                "col_min": box.col_min,
                "col_max": box.col_max,
            }
        if sighting.component_key:
            params["component_key"] = sighting.component_key
        if box is None and not sighting.component_key:
            return []
        connection = await self.session.connection()
        query = _candidates_query(box is not None, bool(sighting.component_key))
        rows = [row._mapping for row in await connection.execute(query, params)]
        found = {r["case_id"]: _to_entry(r) for r in rows if r["case_id"] not in self._pending}
        found.update(
            (case_id, entry)
            for case_id, entry in self._pending.items()
            if entry is not None and _may_match(entry, sighting, box)
        )
        return list(found.values())

    async def get(self, case_id: str) -> FusionEntry | None:
        if case_id in self._pending:
            return self._pending[case_id]
        connection = await self.session.connection()
        found = (await connection.execute(_BY_CASE, {"case_id": case_id})).first()
        return _to_entry(found._mapping) if found else None

    def add(self, entry: FusionEntry) -> None:
        """The entry of a case opened in this transaction."""
        self._pending[entry.case_id] = entry

    async def put(self, entry: FusionEntry) -> None:
        """Replace a case's entry (its span grew, its 小类 changed), or add it."""
        self._pending[entry.case_id] = entry

    async def forget(self, case_id: str) -> None:
        """The case can no longer be joined (closed, rejected, merged)."""
        self._pending[case_id] = None

    async def write_pending(self) -> None:
        """Write this transaction's changes: drop the changed cases' rows, insert
        their entries now (an insert, a replacement and a removal alike)."""
        if not self._pending:
            return
        connection = await self.session.connection()
        await connection.execute(_DROP_CASES, {"case_ids": list(self._pending)})
        await insert_rows(
            connection, TABLE, [_values(e) for e in self._pending.values() if e is not None]
        )
        self._pending.clear()
