"""The rows a repository holds in this transaction, as plain column values, and
the Core statements that write them.

Neither new nor loaded rows are ORM objects: building a SQLModel object per
case, assignment and timer, tracking it, checking it for changes and flushing
it through the ORM's unit of work was most of dispatch's cost per event. A row
read is kept here as its column values; `save` changes those values in place
(and remembers the key); new rows wait as values too. `write` inserts the new
rows in one executemany and writes the changed ones back in another: before
the repository's next query of its table (so every query sees them, as the
ORM's autoflush made it; a repository may instead combine a query with them
in memory, as the assignments' team measures do) and at commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from sqlalchemy import CursorResult, Executable, Row, Select, Table, bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit.rows import insert_rows, rewrite_rows

Values = dict[str, Any]


class Fields:
    """A row's values read by attribute, the way the converters read a row."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


class TrackedRows:
    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table
        (key,) = table.primary_key.columns
        self._key: str = key.name
        # Rows read in this transaction, by key, as this transaction sees them.
        self._rows: dict[str, Values] = {}
        self._new: dict[str, Values] = {}
        # Keys of read rows that `save` changed and `write` has not written yet.
        self._changed: set[str] = set()

    def add(self, values: Values) -> None:
        """A new record's row: inserted by the next `write`."""
        self._new[values[self._key]] = values

    def new(self, key: str) -> Values | None:
        """A row added in this transaction and not written yet."""
        return self._new.get(key)

    def pending(self) -> Iterator[Values]:
        """The rows not written yet (their values may be changed in place before the write)."""
        return iter(self._new.values())

    def tracked(self, key: str) -> Fields | None:
        """The row this transaction read for a key, if any."""
        values = self._rows.get(key)
        return None if values is None else Fields(values)

    def loaded(self) -> Iterator[Values]:
        """The rows read, as mutable values: a change made here is taken as stored."""
        return iter(self._rows.values())

    def seen(self, row: Row[Any]) -> Fields:
        """A row just read. A row this transaction read before keeps the values
        it holds: they include its changes not written yet."""
        values = dict(row._mapping)
        return Fields(self._rows.setdefault(values[self._key], values))

    async def execute(self, statement: Executable, **params: Any) -> CursorResult[Any]:
        """A Core statement in this transaction (the repository's queries)."""
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    async def read(self, key: str) -> Fields | None:
        """The stored row for a key as this transaction sees it: the one read
        before, else read now by primary key (None: there is none)."""
        if key not in self._rows:
            row = (await self.execute(_by_key(self._table), key=key)).first()
            if row is None:
                return None
            self.seen(row)
        return Fields(self._rows[key])

    async def save(self, values: Values) -> None:
        """Keep a record's current values: in its new or read row, else in the
        stored row read now (as the ORM's merge did), else as a new row."""
        key = values[self._key]
        if key in self._new:
            self._new[key] = values
            return
        if await self.read(key) is None:
            self._new[key] = values
            return
        tracked = self._rows[key]
        if any(tracked[name] != value for name, value in values.items()):
            tracked.update(values)
            self._changed.add(key)

    async def write(self) -> None:
        """Insert the new rows and write back the changed ones (nothing to do
        when there are none). Written new rows are no longer this object's: a
        later read loads them like any row."""
        await self.write_changed()
        if not self._new:
            return
        rows = list(self._new.values())
        self._new.clear()
        await insert_rows(await self._session.connection(), self._table, rows)

    async def write_changed(self) -> None:
        """Write back the read rows `save` changed, in one executemany."""
        if not self._changed:
            return
        rows = [self._rows[key] for key in sorted(self._changed)]
        self._changed.clear()
        await rewrite_rows(await self._session.connection(), self._table, self._key, rows)

    def discard(self) -> None:
        """Forget every row: the transaction was rolled back, so what was read
        may no longer be what is stored."""
        self._new.clear()
        self._rows.clear()
        self._changed.clear()


@cache
def _by_key(table: Table) -> Select[Any]:
    """One row by primary key, built once per table."""
    (key,) = table.primary_key.columns
    return select(table).where(key == bindparam("key"))
