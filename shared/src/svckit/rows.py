"""Core statements for repositories that keep a transaction's new and changed
rows in memory and write them at commit, one executemany per kind, instead of
tracking ORM objects (the ORM's per-object work was most of the hot consumers'
CPU; docs/performance.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, Update, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

_KEY = "key_"


@cache
def _rewrite(table: Table, key: str) -> Update:
    """UPDATE … SET every other column WHERE `key` = :key_ (compiled once, cached)."""
    return (
        update(table)
        .where(table.c[key] == bindparam(_KEY))
        .values({c.name: bindparam(c.name) for c in table.columns if c.name != key})
    )


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


async def insert_rows(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert whole rows in one executemany (nothing when there are none)."""
    if rows:
        await connection.execute(_insert(table), list(rows))


async def rewrite_rows(
    connection: AsyncConnection, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Write whole rows back over the stored ones, matched on `key`, in one
    executemany; each row must hold every column of the table."""
    if not rows:
        return
    params = []
    for row in rows:
        values = {name: value for name, value in row.items() if name != key}
        values[_KEY] = row[key]
        params.append(values)
    await connection.execute(_rewrite(table, key), params)
