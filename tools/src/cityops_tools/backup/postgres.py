"""PostgreSQL: pg_dump and pg_restore in their custom format; the password travels in PGPASSWORD, never on a command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cityops_tools.backup.common import VERSION_TABLE, BackupError
from svckit.postgres import postgres_bin_dir


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy asyncpg URL as libpq takes it; the password goes in the
    environment, not on a command line anyone can read in `ps`."""
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"  # IPv6
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = [("sslmode" if k == "ssl" else k, v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(("postgresql", netloc, parts.path, urlencode(query), "")), env


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def pg_tool(name: str, *args: str, url: str | None = None) -> str:
    """Run a PostgreSQL client; `{dsn}` in an argument stands for `url`."""
    dsn, env = libpq(url) if url else ("", {**os.environ})
    command = [str(postgres_bin_dir() / name), *(arg.replace("{dsn}", dsn) for arg in args)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.strip()}")
    return done.stdout


def pg_query(url: str, sql: str) -> list[str]:
    out = pg_tool(
        "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "{dsn}", "-c", sql, url=url
    )
    return [line for line in out.splitlines() if line]


def backup_postgres(url: str, target: Path) -> dict[str, Any]:
    """pg_dump runs in one repeatable-read snapshot: consistent while services write."""
    pg_tool("pg_dump", "--format=custom", f"--file={target}", "--dbname={dsn}", url=url)
    revisions: list[str] = []
    if pg_query(url, f"SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL") == ["t"]:
        revisions = sorted(pg_query(url, f"SELECT version_num FROM {VERSION_TABLE}"))
    return {"database": database_name(url), "schema_revisions": revisions}


def postgres_tables(url: str) -> int:
    return int(
        pg_query(
            url,
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        )[0]
    )


def restore_postgres(backup: Path, url: str, *, replace: bool) -> None:
    options = ["--no-owner", "--single-transaction", "--exit-on-error"]
    if replace:
        options += ["--clean", "--if-exists"]
    pg_tool("pg_restore", *options, "--dbname={dsn}", str(backup), url=url)
