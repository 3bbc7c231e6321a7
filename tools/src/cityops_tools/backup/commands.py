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
import json
import os
import shutil
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cityops_tools.backup.common import FORMAT, MANIFEST, BackupError
from cityops_tools.backup.layout import Database, databases, side_files
from cityops_tools.backup.manifest import files_under, load_manifest, sha256, verify
from cityops_tools.backup.postgres import backup_postgres, postgres_tables, restore_postgres
from cityops_tools.backup.sqlite import backup_sqlite, restore_sqlite
from cityops_tools.backup.streams import (
    api,
    default_nats_url,
    nats_for,
    refuse_if_running,
    restore_stream,
    snapshot_stream,
    stream_names,
)


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
