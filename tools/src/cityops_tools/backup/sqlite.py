"""SQLite: the online backup API, so a copy is one committed state while services write."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from cityops_tools.backup.common import SQLITE_SIDE_FILES, VERSION_TABLE


def backup_sqlite(source: Path, target: Path) -> dict[str, Any]:
    """One read transaction over the whole file (online backup API, all pages in
    one step), so the copy is one committed state even while services write."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # A self-contained file: no -wal beside the backup.
        dst.execute("PRAGMA journal_mode=DELETE")
        return describe_sqlite(dst)
    finally:
        dst.close()
        src.close()


def describe_sqlite(conn: sqlite3.Connection) -> dict[str, Any]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    revisions = []
    if VERSION_TABLE in tables:
        revisions = sorted(r[0] for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}"))
    return {"tables": tables, "schema_revisions": revisions}


def check_sqlite(path: Path) -> tuple[str, dict[str, Any]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return str(verdict), describe_sqlite(conn)
    finally:
        conn.close()


def restore_sqlite(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in [target, *(Path(f"{target}{s}") for s in SQLITE_SIDE_FILES)]:
        stale.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
