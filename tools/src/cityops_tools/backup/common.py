"""Constants and the error every backup module raises."""

from __future__ import annotations

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
FORMAT = "cityops-backup/1"
MANIFEST = "manifest.json"
CHUNK = 128 * 1024
# Left beside a live SQLite database by SQLite itself; never copied.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# svckit.migrations.VERSION_TABLE, not imported: Alembic and SQLAlchemy would
# add seconds to every start of this command.
VERSION_TABLE = "alembic_version"


class BackupError(Exception):
    """Something an operator must fix; the message says what."""
