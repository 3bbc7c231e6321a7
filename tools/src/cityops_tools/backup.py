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

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import nats
from nats.aio.client import Client

from svckit.natsserver import NatsServer
from svckit.postgres import postgres_bin_dir

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


# --- what to back up ---------------------------------------------------------


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


# --- SQLite ------------------------------------------------------------------


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


# --- PostgreSQL --------------------------------------------------------------


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


# --- JetStream ---------------------------------------------------------------


def default_nats_url() -> str | None:
    return os.environ.get("CITYOPS_NATS_URL")


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def stack_nats_port(data_dir: Path) -> int | None:
    """The port of the nats-server that owns DATA_DIR/nats, when it is running.
    nats-server does not lock its store: a second one on it would corrupt it."""
    conf = data_dir / "nats" / "nats-server.conf"
    if not conf.is_file():
        return None
    found = re.search(r"^port:\s*(\d+)", conf.read_text(), re.MULTILINE)
    if found and _listening(int(found.group(1))):
        return int(found.group(1))
    return None


@contextlib.asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[Client]:
    options: dict[str, Any] = {}
    if os.environ.get("CITYOPS_NATS_NKEY_SEED_FILE") or os.environ.get("CITYOPS_NATS_CREDS_FILE"):
        # Imported only here: svckit's settings pull in pydantic (slow to start).
        from svckit.messaging.auth import NatsAuth

        auth = NatsAuth.from_environment()
        options = auth.connect_options("backup") if auth else {}
    try:
        nc = await nats.connect(
            [u.strip() for u in url.split(",") if u.strip()],
            name="cityops-backup",
            connect_timeout=3,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            **options,
        )
    except Exception as exc:
        raise BackupError(f"cannot reach NATS at {url}: {exc!r}") from exc
    try:
        yield nc
    finally:
        await nc.close()


def refuse_if_running(data_dir: Path) -> None:
    if (port := stack_nats_port(data_dir)) is not None:
        raise BackupError(
            f"the stack is running (nats-server on port {port} owns {data_dir / 'nats'}): "
            "stop it before restoring, or pass --nats-url to restore into a server you manage"
        )


@contextlib.asynccontextmanager
async def nats_for(data_dir: Path, url: str | None, *, restoring: bool) -> AsyncIterator[Client]:
    """The given server; else the stack's running one; else one on DATA_DIR/nats for this run."""
    if url is None and (port := stack_nats_port(data_dir)) is not None:
        if restoring:
            refuse_if_running(data_dir)
        url = f"nats://127.0.0.1:{port}"
    if url is not None:
        async with jetstream(url) as nc:
            yield nc
        return
    if not restoring and not (data_dir / "nats").is_dir():
        raise BackupError(f"no NATS store at {data_dir / 'nats'}: pass --nats-url")
    server = NatsServer(data_dir / "nats", log_file=data_dir / "nats-server.log")
    server.start()
    try:
        async with jetstream(server.url) as nc:
            yield nc
    finally:
        server.stop()


async def api(nc: Client, subject: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
    answer = json.loads(reply.data)
    if answer.get("error"):
        raise BackupError(f"{subject}: {answer['error'].get('description', answer['error'])}")
    return answer


async def stream_names(nc: Client) -> list[str]:
    names: list[str] = []
    while True:
        page = await api(nc, "$JS.API.STREAM.NAMES", {"offset": len(names)})
        names += page.get("streams") or []
        if not page.get("streams") or len(names) >= page.get("total", 0):
            return sorted(names)


async def snapshot_stream(nc: Client, name: str, target: Path) -> dict[str, Any]:
    """The server's own snapshot ($JS.API.STREAM.SNAPSHOT): a point-in-time copy of
    the stream's store, sequence numbers, headers and timestamps kept. Chunks
    come to an inbox; each one with a reply subject is acked (the server's flow
    control); an empty message ends it."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        meta = await api(
            nc,
            f"$JS.API.STREAM.SNAPSHOT.{name}",
            {"deliver_subject": inbox, "no_consumers": True, "chunk_size": CHUNK, "jsck": True},
            timeout=300,  # the server checks every message's checksum before it answers
        )
        with target.open("wb") as out:
            while True:
                try:
                    chunk = await sub.next_msg(timeout=30)
                except TimeoutError as exc:
                    raise BackupError(f"snapshot of stream {name} stalled") from exc
                if not chunk.data:
                    break
                out.write(chunk.data)
                if chunk.reply:
                    await nc.publish(chunk.reply, b"")
    finally:
        await sub.unsubscribe()
    return {"config": meta["config"], "state": meta["state"]}


async def restore_stream(nc: Client, name: str, snapshot: Path, meta: dict[str, Any]) -> Any:
    started = await api(
        nc, f"$JS.API.STREAM.RESTORE.{name}", {"config": meta["config"], "state": meta["state"]}
    )
    deliver = started["deliver_subject"]
    with snapshot.open("rb") as data:
        while chunk := data.read(CHUNK):
            reply = await nc.request(deliver, chunk, timeout=30)
            if reply.data:
                raise BackupError(
                    f"restore of stream {name}: {reply.data.decode(errors='replace')}"
                )
    done = await nc.request(deliver, b"", timeout=300)
    answer = json.loads(done.data)
    if answer.get("error"):
        raise BackupError(f"restore of stream {name}: {answer['error'].get('description')}")
    return answer["state"]


# --- manifest ----------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def files_under(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            yield path.relative_to(root).as_posix()


def load_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(f"{src} is not a backup: no {MANIFEST}")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown format {manifest.get('format')!r} (want {FORMAT})")
    return manifest


def problems(src: Path) -> list[str]:
    """Everything wrong with a backup; empty when it restores as recorded."""
    manifest = load_manifest(src)
    found = []
    listed: dict[str, dict[str, Any]] = manifest["files"]
    for name in sorted(set(files_under(src)) - set(listed)):
        found.append(f"{name}: not in the manifest")
    for name, expected in listed.items():
        path = src / name
        if not path.is_file():
            found.append(f"{name}: missing")
        elif path.stat().st_size != expected["size"]:
            found.append(f"{name}: size {path.stat().st_size}, manifest says {expected['size']}")
        elif (actual := sha256(path)) != expected["sha256"]:
            found.append(f"{name}: sha256 {actual}, manifest says {expected['sha256']}")
    named = [e["file"] for e in manifest["databases"].values()]
    named += [e[k] for e in manifest["streams"].values() for k in ("snapshot", "meta")]
    for name in named:
        if name not in listed:
            found.append(f"{name}: named in the manifest but has no checksum there")
    if found:
        return found  # the contents cannot be trusted; do not open them
    for entry in manifest["databases"].values():
        path = src / entry["file"]
        if entry["kind"] == "sqlite":
            verdict, described = check_sqlite(path)
            if verdict != "ok":
                found.append(f"{entry['file']}: integrity check: {verdict}")
            elif described["tables"] != entry["tables"]:
                found.append(f"{entry['file']}: row counts differ from the manifest")
        else:
            try:
                pg_tool("pg_restore", "--list", str(path))
            except BackupError as exc:
                found.append(f"{entry['file']}: {exc}")
    for entry in manifest["streams"].values():
        state = json.loads((src / entry["meta"]).read_text())["state"]
        if state["messages"] != entry["messages"]:
            found.append(
                f"{entry['meta']}: {state['messages']} messages, manifest says {entry['messages']}"
            )
    return found


def verify(src: Path) -> list[str]:
    try:
        return problems(src)
    except BackupError:
        raise
    except Exception as exc:  # a manifest edited into another shape
        return [f"{src / MANIFEST}: unreadable: {exc!r}"]


# --- the commands ------------------------------------------------------------


async def snapshot_streams(
    folder: Path, data_dir: Path, nats_url: str | None
) -> tuple[str, dict[str, Any]]:
    entries: dict[str, Any] = {}
    async with nats_for(data_dir, nats_url, restoring=False) as nc:
        for name in await stream_names(nc):
            meta = await snapshot_stream(nc, name, folder / f"{name}.snapshot")
            (folder / f"{name}.json").write_text(json.dumps(meta, indent=1))
            state = meta["state"]
            entries[name] = {
                "snapshot": f"streams/{name}.snapshot",
                "meta": f"streams/{name}.json",
                "messages": state["messages"],
                "bytes": state["bytes"],
                "first_seq": state["first_seq"],
                "last_seq": state["last_seq"],
            }
        return str(nc.connected_server_version), entries


def create(dest: Path, data_dir: Path, nats_url: str | None) -> dict[str, Any]:
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty")
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "db").mkdir(parents=True)
    (partial / "streams").mkdir()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "host": socket.gethostname(),
        "data_dir": str(data_dir),
        "databases": {},
        "streams": {},
        "files": {},
    }
    try:
        # Databases before streams: see the module docstring.
        for db in databases(data_dir):
            if db.kind == "sqlite" and not db.path.is_file():
                print(f"{db.service}: no database at {db.path}; skipped", file=sys.stderr)
                continue
            target = partial / db.backup_name
            if db.kind == "sqlite":
                entry = backup_sqlite(db.path, target)
            else:
                entry = backup_postgres(db.url, target)
            manifest["databases"][db.service] = {"kind": db.kind, "file": db.backup_name, **entry}
        for side in side_files(data_dir):
            (partial / "files").mkdir(exist_ok=True)
            shutil.copy2(side, partial / "files" / side.name)
        manifest["nats_server"], manifest["streams"] = asyncio.run(
            snapshot_streams(partial / "streams", data_dir, nats_url)
        )
        for name in files_under(partial):
            path = partial / name
            manifest["files"][name] = {"sha256": sha256(path), "size": path.stat().st_size}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)  # a backup that stopped half-way never looks complete
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def plan_restore(
    manifest: dict[str, Any], data_dir: Path, *, force: bool
) -> list[tuple[Database, dict[str, Any]]]:
    """Each backed-up database with where it goes; refuses before anything changes."""
    targets = {db.service: db for db in databases(data_dir)}
    plan = []
    for service, entry in manifest["databases"].items():
        db = targets.get(service)
        if db is None:
            raise BackupError(f"the backup holds a database for an unknown service {service!r}")
        if db.kind != entry["kind"]:
            raise BackupError(
                f"{service}: the backup holds a {entry['kind']} database but the target is "
                f"{db.kind} (CITYOPS_{service.upper()}_DATABASE_URL); nothing restored"
            )
        if not force and (db.path.exists() if db.kind == "sqlite" else postgres_tables(db.url)):
            raise BackupError(
                f"{service}: the target database is not empty; pass --force to replace it"
            )
        plan.append((db, entry))
    return plan


def restore_files(src: Path, data_dir: Path, plan: list[tuple[Database, dict[str, Any]]]) -> None:
    for db, entry in plan:
        if db.kind == "sqlite":
            restore_sqlite(src / entry["file"], db.path)
        else:
            restore_postgres(src / entry["file"], db.url, replace=True)
        print(f"{db.service}: restored {entry['file']}")
    if (src / "files").is_dir():
        (data_dir / "db").mkdir(parents=True, exist_ok=True)
        for side in (src / "files").iterdir():
            shutil.copy2(side, data_dir / "db" / side.name)


async def restore_all(src: Path, data_dir: Path, nats_url: str | None, *, force: bool) -> None:
    manifest = load_manifest(src)
    if nats_url is None:
        refuse_if_running(data_dir)
    plan = plan_restore(manifest, data_dir, force=force)
    async with nats_for(data_dir, nats_url, restoring=True) as nc:
        existing = set(await stream_names(nc)) & set(manifest["streams"])
        if existing and not force:
            raise BackupError(
                f"streams already exist: {', '.join(sorted(existing))}; pass --force to replace them"
            )
        restore_files(src, data_dir, plan)
        for name, entry in manifest["streams"].items():
            if name in existing:
                await api(nc, f"$JS.API.STREAM.DELETE.{name}", {})
            meta = json.loads((src / entry["meta"]).read_text())
            state = await restore_stream(nc, name, src / entry["snapshot"], meta)
            if (state["messages"], state["last_seq"]) != (entry["messages"], entry["last_seq"]):
                raise BackupError(
                    f"stream {name}: restored {state['messages']} messages up to "
                    f"{state['last_seq']}, the backup has {entry['messages']} up to {entry['last_seq']}"
                )
            print(f"stream {name}: restored {state['messages']} messages")


def restore(src: Path, data_dir: Path, nats_url: str | None, *, force: bool) -> None:
    found = verify(src)
    if found:
        raise BackupError(f"{src} failed verification; nothing restored:\n  " + "\n  ".join(found))
    asyncio.run(restore_all(src, data_dir, nats_url, force=force))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cityops_tools.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    data_dir = Path(os.environ.get("CITYOPS_DATA_DIR", "var"))
    for command, place in (("create", "DEST"), ("restore", "SRC"), ("verify", "SRC")):
        cmd = sub.add_parser(command)
        cmd.add_argument("path", type=Path, metavar=place)
        if command == "verify":
            continue
        cmd.add_argument("--data-dir", type=Path, default=data_dir)
        cmd.add_argument("--nats-url", default=default_nats_url())
        if command == "restore":
            cmd.add_argument("--force", action="store_true", help="replace existing data")
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            manifest = create(args.path, args.data_dir.resolve(), args.nats_url)
            print(
                f"backup written to {args.path}: {len(manifest['databases'])} databases, "
                f"{len(manifest['streams'])} streams"
            )
        elif args.command == "verify":
            found = verify(args.path)
            for line in found:
                print(f"{args.path}: {line}", file=sys.stderr)
            if found:
                return 1
            print(f"{args.path}: ok")
        else:
            restore(args.path, args.data_dir.resolve(), args.nats_url, force=args.force)
    except BackupError as exc:
        print(f"backup {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
