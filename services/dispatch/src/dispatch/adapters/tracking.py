"""Rows a repository has loaded or added in this session, so saving a record updates its
row in place instead of ``merge`` (which costs a SELECT per object)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

R = TypeVar("R", bound=SQLModel)


class TrackedRows(Generic[R]):
    def __init__(self, session: AsyncSession, key: Callable[[R], str]) -> None:
        self._session = session
        self._key = key
        self._rows: dict[str, R] = {}

    def add(self, row: R) -> None:
        """A new record: inserted at the next flush."""
        self._session.add(row)
        self._rows[self._key(row)] = row

    def tracked(self, key: str) -> R | None:
        """The row this session holds for a key, if any."""
        return self._rows.get(key)

    def seen(self, row: R) -> R:
        """A row just loaded: later saves of its record update it."""
        self._rows[self._key(row)] = row
        return row

    async def save(self, row: R) -> None:
        """Write a record's current values: into its tracked row, else merged by key."""
        tracked = self._rows.get(self._key(row))
        if tracked is None:
            self._rows[self._key(row)] = await self._session.merge(row)
            return
        for name in type(row).model_fields:
            value = getattr(row, name)
            if getattr(tracked, name) != value:
                setattr(tracked, name, value)
