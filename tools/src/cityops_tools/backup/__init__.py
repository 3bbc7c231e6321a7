"""Back up and restore the whole stack; the commands and how they stay
consistent are described in `cityops_tools.backup.commands`."""

from __future__ import annotations

from cityops_tools.backup.commands import create, main, restore
from cityops_tools.backup.common import BackupError
from cityops_tools.backup.manifest import verify

__all__ = ["BackupError", "create", "main", "restore", "verify"]
