"""What a backup covers: each service's database (SQLite file or PostgreSQL URL) and the files beside them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cityops_tools.backup.common import SERVICES, SQLITE_SIDE_FILES, BackupError


@dataclass(frozen=True)
class Database:
    service: str
    url: str

    @property
    def kind(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    @property
    def path(self) -> Path:
        return Path(self.url.split(":///", 1)[-1])

    @property
    def backup_name(self) -> str:
        return f"db/{self.service}.{'pgdump' if self.kind == 'postgresql' else 'db'}"


def databases(data_dir: Path) -> list[Database]:
    """Where each service keeps its data, read the way the services read it."""
    found = []
    for service in SERVICES:
        url = os.environ.get(f"CITYOPS_{service.upper()}_DATABASE_URL", "")
        if not url:
            url = f"sqlite+aiosqlite:///{data_dir / 'db' / f'{service}.db'}"
        if not url.startswith(("sqlite", "postgresql")):
            raise BackupError(f"{service}: unsupported database URL scheme in {url.split(':')[0]}")
        found.append(Database(service, url))
    return found


def side_files(data_dir: Path) -> list[Path]:
    """Files beside the SQLite databases that are state too (audit's dev signing key)."""
    folder = data_dir / "db"
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix != ".db" and not p.name.endswith(SQLITE_SIDE_FILES)
    )
