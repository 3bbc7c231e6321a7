"""JetStream: nats-server's own stream snapshots and restores, so sequence numbers, headers, Nats-Msg-Id and timestamps are kept exactly."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from cityops_tools.backup.common import CHUNK, BackupError
from svckit.natsserver import NatsServer


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
