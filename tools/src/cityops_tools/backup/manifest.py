"""The manifest: what a backup holds, with sha256 and counts, and the checks `verify` runs against it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cityops_tools.backup.common import FORMAT, MANIFEST, BackupError
from cityops_tools.backup.postgres import pg_tool
from cityops_tools.backup.sqlite import check_sqlite


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
