"""The rows a repository holds in this transaction: the ones it loaded (ORM objects, so
saving a record updates its row in place instead of ``merge``, which costs a SELECT per
object) and the ones it added (plain column values, inserted together at the end).

New rows skip the ORM: building a SQLModel object per case, assignment and timer, tracking
it and flushing it through the unit-of-work machinery was most of a filed case's cost. They
wait here as column values, a later save of the same record just replaces them, and
`write` inserts them in one executemany: before the repository's next query of the table
(so every query sees them, as the ORM's autoflush made it; a repository may instead combine
a query with them in memory, as the assignments' team measures do) and at commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, inspect
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from svckit.rows import insert_rows

R = TypeVar("R", bound=SQLModel)
Values = dict[str, Any]


class Fields:
    """A new row's values read by attribute, like a loaded row, for the same converters."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


class TrackedRows(Generic[R]):
    def __init__(self, session: AsyncSession, model: type[R]) -> None:
        self._session = session
        self._model = model
        self._table: Table = model.__table__  # type: ignore[attr-defined]
        (key,) = self._table.primary_key.columns
        self._key: str = key.name
        self._rows: dict[str, R] = {}
        self._new: dict[str, Values] = {}
        # Loaded rows `save` changed (or merged), maybe not flushed yet.
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

    def tracked(self, key: str) -> R | None:
        """The row this session holds for a key, if any."""
        return self._rows.get(key)

    def loaded(self) -> Iterator[R]:
        return iter(self._rows.values())

    def seen(self, row: R) -> R:
        """A row just loaded: later saves of its record update it."""
        self._rows[getattr(row, self._key)] = row
        return row

    async def save(self, values: Values) -> None:
        """Write a record's current values: into its new or tracked row, else merged by key."""
        key = values[self._key]
        if key in self._new:
            self._new[key] = values
            return
        tracked = self._rows.get(key)
        self._changed.add(key)
        if tracked is None:
            self._rows[key] = await self._session.merge(self._model(**values))
            return
        for name, value in values.items():
            if getattr(tracked, name) != value:
                setattr(tracked, name, value)

    def unflushed(self) -> bool:
        """Whether a loaded row holds changes the session has not flushed yet
        (cheaper than scanning the session's dirty objects of every table)."""
        self._changed = {
            key
            for key in self._changed
            if (state := inspect(self._rows[key])).modified or state.pending
        }
        return bool(self._changed)

    async def write(self) -> None:
        """Insert the new rows in one executemany (nothing to do when there are none).

        Written rows are no longer this object's: a later read loads them like any row.
        """
        if not self._new:
            return
        rows = list(self._new.values())
        self._new.clear()
        await insert_rows(await self._session.connection(), self._table, rows)

    def discard(self) -> None:
        """Forget the rows not written (their transaction, or savepoint, was rolled back)."""
        self._new.clear()
