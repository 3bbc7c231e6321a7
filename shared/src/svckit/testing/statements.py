"""Listen to what a service's engine sends to the database, for a test block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from svckit import db


@contextmanager
def listening(engine: AsyncEngine, **listeners: Callable[..., Any]) -> Iterator[None]:
    """SQLAlchemy's engine events (`before_cursor_execute=…`, `commit=…`) on
    every engine the services' statements run on (on a SQLite file the sync
    twin too), removed when the block ends."""
    engines = db.statement_engines(engine)
    for sync_engine in engines:
        for name, listener in listeners.items():
            event.listen(sync_engine, name, listener)
    try:
        yield
    finally:
        for sync_engine in engines:
            for name, listener in listeners.items():
                event.remove(sync_engine, name, listener)
