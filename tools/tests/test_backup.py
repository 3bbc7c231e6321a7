"""`python -m cityops_tools.backup` against a real nats-server, real SQLite
files and a real PostgreSQL: a backup taken while writers write restores to
one consistent state, identical message for message; a tampered backup is
refused; existing data is replaced only when asked."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from cityops_tools.backup.postgres import pg_query
from svckit.messaging import jetstream
from svckit.messaging.subjects import PRODUCERS, StreamSpec, stream_for
from svckit.natsserver import NatsServer
from svckit.postgres import PostgresCluster

BUCKET = "cityops-evidence"
IOT = StreamSpec(name="IOT_TELEMETRY", subjects=("iot.>",), max_age_days=7.0)
EVIDENCE = os.urandom(600 * 1024)  # incompressible: several snapshot chunks, each acked


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


async def cli(*args: str | Path, env: dict[str, str] | None = None) -> Done:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cityops_tools.backup",
        *map(str, args),
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


# --- data to back up ---------------------------------------------------------


def make_sqlite(path: Path, revision: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        conn.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
        conn.execute("CREATE TABLE outbox (position INTEGER PRIMARY KEY, case_id INTEGER)")
    conn.close()


def rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY 1"))
    finally:
        conn.close()


class SqliteWriter(threading.Thread):
    """A service committing a case and its outbox row in one transaction, non-stop."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.written = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        while not self.stopping.is_set():
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute("INSERT INTO cases (title) VALUES (?)", (f"case {self.written}",))
            conn.execute("INSERT INTO outbox (case_id) VALUES (?)", (cur.lastrowid,))
            conn.execute("COMMIT")
            self.written += 1
        conn.close()


async def seed_streams(js: JetStreamContext) -> None:
    for producer in PRODUCERS:
        await jetstream.ensure_stream(js, stream_for(producer))
        for i in range(5):
            await js.publish(
                f"cityops.{producer}.thing.happened",
                json.dumps({"producer": producer, "n": i}).encode(),
                headers={"Nats-Msg-Id": f"{producer}-{i}", "ce-type": "thing.happened"},
            )
    await jetstream.ensure_stream(js, IOT)
    await js.publish("iot.lamp-1.telemetry", b'{"lux": 3}')
    # A durable consumer with acked messages: a backup leaves it out (services recreate theirs).
    await jetstream.ensure_pull_consumer(js, "INTAKE", "dispatch-intake")
    store = await js.create_object_store(BUCKET)
    await store.put("WO-1/EV-1", EVIDENCE)


class DetectionPublisher:
    """Detection publishing reports non-stop, each with its own Nats-Msg-Id."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.published = 0
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        while not self.stopping.is_set():
            await self.js.publish(
                "cityops.detection.detection.reported",
                f"live {self.published}".encode(),
                headers={"Nats-Msg-Id": f"live-{self.published}"},
            )
            self.published += 1


Message = tuple[int, str, bytes, dict[str, str] | None]


async def messages(js: JetStreamContext, stream: str) -> list[Message]:
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.seq is not None and msg.subject is not None
        found.append((msg.seq, msg.subject, msg.data or b"", msg.headers))
    return found


async def everything(js: JetStreamContext) -> dict[str, list[Message]]:
    names = sorted(info.config.name for info in await js.streams_info() if info.config.name)
    return {name: await messages(js, name) for name in names}


async def connect(server: NatsServer) -> tuple[Client, JetStreamContext]:
    nc = await nats.connect(server.url)
    return nc, nc.jetstream()


async def until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


# --- the tests ---------------------------------------------------------------


async def test_a_backup_taken_while_writing_restores_one_consistent_state(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    data = tmp_path / "var"
    intake_db, dispatch_db = data / "db" / "intake.db", data / "db" / "dispatch.db"
    make_sqlite(intake_db, "intake0001")
    make_sqlite(dispatch_db, "dispatch0003")
    with sqlite3.connect(dispatch_db) as conn:
        conn.executemany("INSERT INTO cases (title) VALUES (?)", [("a",), ("b",)])
    conn.close()
    key = data / "db" / "audit-signing-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n")
    nc, js = await connect(nats_server)
    await seed_streams(js)

    writer = SqliteWriter(intake_db)
    writer.start()
    publisher = DetectionPublisher(js)
    publishing = asyncio.create_task(publisher.run())
    await until(lambda: writer.written > 20 and publisher.published > 20)
    backup = tmp_path / "backup"
    created = await cli("create", backup, "--data-dir", data, "--nats-url", nats_server.url)
    written, published = writer.written, publisher.published
    # Both still writing after the backup finished, so both wrote during it.
    await until(lambda: writer.written > written + 20 and publisher.published > published + 20)
    publisher.stopping.set()
    await publishing
    writer.stopping.set()
    writer.join()
    assert created.returncode == 0, created.stderr

    original = await everything(js)
    obj = await (await js.object_store(BUCKET)).get("WO-1/EV-1")
    assert obj.data == EVIDENCE
    await nc.close()
    original_cases, original_outbox = rows(intake_db, "cases"), rows(intake_db, "outbox")
    original_dispatch = rows(dispatch_db, "cases")

    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["streams"]) == {*(p.upper() for p in PRODUCERS), IOT.name, f"OBJ_{BUCKET}"}
    assert manifest["databases"]["intake"]["schema_revisions"] == ["intake0001"]
    assert manifest["databases"]["dispatch"]["schema_revisions"] == ["dispatch0003"]
    assert manifest["streams"]["INTAKE"]["messages"] == 5
    for name, entry in manifest["files"].items():
        assert entry["size"] == (backup / name).stat().st_size
    verified = await cli("verify", backup)
    assert verified.returncode == 0, verified.stderr

    # Lose everything: the NATS server and the whole data folder.
    nats_server.kill()
    shutil.rmtree(data)
    restored = await cli("restore", backup, "--data-dir", data)
    assert restored.returncode == 0, restored.stderr

    # The databases: one committed state each, a prefix of what was written.
    cases = rows(intake_db, "cases")
    assert 20 < len(cases) < len(original_cases)
    assert cases == original_cases[: len(cases)]
    assert [case_id for _, case_id in rows(intake_db, "outbox")] == [c[0] for c in cases]
    assert len(original_outbox) == len(original_cases)
    assert rows(dispatch_db, "cases") == original_dispatch
    assert manifest["databases"]["intake"]["tables"]["cases"] == len(cases)
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    # The streams: identical messages, sequence numbers and headers included.
    server = NatsServer(data / "nats", log_file=tmp_path / "restored-nats.log")
    server.start()
    try:
        nc, js = await connect(server)
        again = await everything(js)
        assert set(again) == set(original)
        for name, found in again.items():
            assert found == original[name][: len(found)], name
            assert len(found) == manifest["streams"][name]["messages"]
            if name != "DETECTION":
                assert found == original[name], name
        assert 5 + 20 < len(again["DETECTION"]) < len(original["DETECTION"])
        assert (await (await js.object_store(BUCKET)).get("WO-1/EV-1")).data == EVIDENCE
        assert (await js.stream_info("INTAKE")).state.consumer_count == 0
        await nc.close()
    finally:
        server.kill()


async def test_a_tampered_backup_fails_verify_and_restores_nothing(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    data = tmp_path / "var"
    make_sqlite(data / "db" / "intake.db", "intake0001")
    nc, js = await connect(nats_server)
    await seed_streams(js)
    await nc.close()
    backup = tmp_path / "backup"
    assert (
        await cli("create", backup, "--data-dir", data, "--nats-url", nats_server.url)
    ).returncode == 0

    snapshot = backup / "streams" / "INTAKE.snapshot"
    raw = bytearray(snapshot.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(raw))
    (backup / "db" / "extra.db").write_bytes(b"x")

    verified = await cli("verify", backup)
    assert verified.returncode == 1
    assert "streams/INTAKE.snapshot: sha256" in verified.stderr
    assert "manifest says" in verified.stderr
    assert "db/extra.db: not in the manifest" in verified.stderr

    fresh = tmp_path / "fresh"
    refused = await cli("restore", backup, "--data-dir", fresh)
    assert refused.returncode == 1
    assert "failed verification; nothing restored" in refused.stderr
    assert not fresh.exists()

    (backup / "manifest.json").unlink()
    missing = await cli("verify", backup)
    assert missing.returncode == 1
    assert "not a backup: no manifest.json" in missing.stderr


async def test_restoring_over_existing_data_needs_force_and_then_replaces_it(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    data = tmp_path / "var"
    intake_db = data / "db" / "intake.db"
    make_sqlite(intake_db, "intake0001")
    nc, js = await connect(nats_server)
    await seed_streams(js)
    backup = tmp_path / "backup"
    assert (
        await cli("create", backup, "--data-dir", data, "--nats-url", nats_server.url)
    ).returncode == 0
    before = await messages(js, "INTAKE")
    with sqlite3.connect(intake_db) as conn:
        conn.execute("INSERT INTO cases (title) VALUES ('after the backup')")
    conn.close()
    await js.publish("cityops.intake.case.filed", b"after the backup")

    refused = await cli("restore", backup, "--data-dir", data, "--nats-url", nats_server.url)
    assert refused.returncode == 1
    assert "intake: the target database is not empty; pass --force" in refused.stderr
    assert rows(intake_db, "cases") == [(1, "after the backup")]

    intake_db.unlink()
    refused = await cli("restore", backup, "--data-dir", data, "--nats-url", nats_server.url)
    assert refused.returncode == 1
    assert "streams already exist" in refused.stderr
    assert not intake_db.exists()

    make_sqlite(intake_db, "intake0001")
    with sqlite3.connect(intake_db) as conn:
        conn.execute("INSERT INTO cases (title) VALUES ('after the backup')")
    conn.close()
    forced = await cli(
        "restore", backup, "--data-dir", data, "--nats-url", nats_server.url, "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert rows(intake_db, "cases") == []
    assert await messages(js, "INTAKE") == before
    await nc.close()


async def test_postgresql_databases_round_trip_through_pg_dump(
    tmp_path: Path,
    postgres_url: str,
    postgres_cluster: PostgresCluster,
    nats_server: NatsServer,
) -> None:
    pg_query(
        postgres_url,
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
        "INSERT INTO alembic_version VALUES ('pg0002');"
        "CREATE TABLE intake_case (id serial PRIMARY KEY, title text, photo bytea);"
        "INSERT INTO intake_case (title, photo) "
        "SELECT 'case ' || n, decode(md5(n::text), 'hex') FROM generate_series(1, 500) n;",
    )
    data = tmp_path / "var"
    backup = tmp_path / "backup"
    created = await cli(
        "create", backup, "--data-dir", data, "--nats-url", nats_server.url,
        env={"CITYOPS_INTAKE_DATABASE_URL": postgres_url},
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["databases"]["intake"]["kind"] == "postgresql"
    assert manifest["databases"]["intake"]["schema_revisions"] == ["pg0002"]
    assert (await cli("verify", backup)).returncode == 0

    target = postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:16]}")
    restored = await cli(
        "restore", backup, "--data-dir", tmp_path / "fresh", "--nats-url", nats_server.url,
        env={"CITYOPS_INTAKE_DATABASE_URL": target},
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    query = "SELECT id, title, encode(photo, 'hex') FROM intake_case ORDER BY id"
    assert pg_query(target, query) == pg_query(postgres_url, query)
    assert len(pg_query(target, query)) == 500
    assert pg_query(target, "SELECT version_num FROM alembic_version") == ["pg0002"]

    again = await cli(
        "restore", backup, "--data-dir", tmp_path / "fresh", "--nats-url", nats_server.url,
        env={"CITYOPS_INTAKE_DATABASE_URL": target},
    )  # fmt: skip
    assert again.returncode == 1
    assert "not empty; pass --force" in again.stderr


async def test_without_a_url_the_stacks_own_server_is_used_and_restore_waits_for_it_to_stop(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    make_sqlite(data / "db" / "intake.db", "intake0001")
    stack_nats = NatsServer(data / "nats", log_file=tmp_path / "stack-nats.log")
    stack_nats.start()
    try:
        nc, js = await connect(stack_nats)
        await jetstream.ensure_stream(js, stream_for("intake"))
        await js.publish("cityops.intake.case.filed", b"filed")
        await nc.close()
        backup = tmp_path / "backup"
        created = await cli("create", backup, "--data-dir", data)
        assert created.returncode == 0, created.stderr
        manifest = json.loads((backup / "manifest.json").read_text())
        assert manifest["streams"]["INTAKE"]["messages"] == 1

        with sqlite3.connect(data / "db" / "intake.db") as conn:
            conn.execute("INSERT INTO cases (title) VALUES ('after the backup')")
        conn.close()
        refused = await cli("restore", backup, "--data-dir", data, "--force")
        assert refused.returncode == 1
        assert "the stack is running" in refused.stderr
    finally:
        stack_nats.stop()
    assert rows(data / "db" / "intake.db", "cases") == [(1, "after the backup")]
