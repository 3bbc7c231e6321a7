"""Back up and restore the whole stack: every service's database, every
JetStream stream (the object store's too) and the files beside the databases.

    python -m cityops_tools.backup create DEST [--data-dir var] [--nats-url URL]
    python -m cityops_tools.backup verify SRC
    python -m cityops_tools.backup restore SRC [--data-dir var] [--nats-url URL] [--force]

`create` works while the stack runs. Databases are copied first, streams
after, so every event an outbox row calls published is in the stream copy;
streams are copied without their consumers, so after a restore every service
replays its streams from the start and its inbox skips what its database
already applied (docs/runbook.md, "Backup and restore"). A database is
`CITYOPS_<SERVICE>_DATABASE_URL` when set (SQLite or PostgreSQL), else
`DATA_DIR/db/<service>.db`. Without --nats-url the stack's own nats-server is
used when it listens, else one is started on `DATA_DIR/nats` for the run.
"""

from __future__ import annotations

from cityops_tools.backup.commands import create, main, restore
from cityops_tools.backup.common import BackupError
from cityops_tools.backup.manifest import verify

__all__ = ["BackupError", "create", "main", "restore", "verify"]
