"""Audit's ledger: appends per second through the real consumer path, and the
time to verify a ledger of a million entries.

    uv run python bench/audit.py --cases 1280 --entries 1000000

1. Appends. Case stories (detection reported, filed, dispatched, work order
   created / accepted / progressed / completed, verified, closed: 9 events a
   case) are published, as CloudEvents messages, to their producers' streams
   in rounds of 128 cases, so every batch of 128 holds 128 different cases, as
   it does when the service keeps up. Each stream's batches go through the
   worker `audit.entrypoints.subscriptions` wires up (svckit's pull worker:
   unwrap, inbox, one transaction a batch; audit's `record_event`: ledger
   entry, Merkle nodes, tree heads every 1000, case tracking, machine
   verification) onto a SQLite file (WAL), logging at INFO to a file.
   Between a round's completions and its audit events each case is verified
   and closed through the gRPC handlers (untimed), as people would. NATS is
   replaced by in-memory messages whose ack does nothing, so the figure is
   the ledger's, not the broker's. Prints appends/s and p50/p99 per batch.

2. Verification. Builds an N-entry ledger with audit's own code (`ledger.append`:
   canonical entry, chain hash, leaf hash, Merkle nodes; written by the
   ledger repository in transactions of 10,000; a signed tree head every
   1,000 entries), then runs `python -m audit verify-ledger` on it in a child
   process and prints its wall time, entries/s and peak RSS.

Prints figures; asserts nothing. Results go to docs/audit.md.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

# This file is bench/audit.py: its folder, first on sys.path, would shadow the audit package
# (hence the imports below this line; E402 is waived for this file).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

import audit.adapters.tables  # noqa: F401  (registers audit's tables for create_tables)
from audit.adapters.signing import Ed25519Signer
from audit.bootstrap import build_context
from audit.config import AuditSettings
from audit.domain import ledger
from audit.domain.commands import CloseCase, VerifyCase
from audit.domain.hashing import payload_sha256
from audit.domain.model import EventFacts
from audit.entrypoints.subscriptions import subscribe_all
from audit.service_layer import handlers
from audit.service_layer.tree_heads import sign_head
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from svckit import db
from svckit.grpc.identity import Caller
from svckit.logging import configure_logging
from svckit.messaging import codec, subjects
from svckit.messaging.consumer import PullWorker
from svckit.messaging.envelope import Envelope

BATCH = 128  # svckit's pull worker batch
HEAD_EVERY = 1000  # the service's default CITYOPS_AUDIT_TREE_HEAD_EVERY_ENTRIES
BUILD_CHUNK = 10_000
SEED = bytes(range(32))
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEPARTMENTS = ("D01-transport", "D02-water", "D03-city_management", "D04-greening")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


# --- 1. appends ------------------------------------------------------------------


class InMemoryMsg:
    """What the pull worker reads of a NATS message; acking does nothing."""

    def __init__(self, envelope: Envelope) -> None:
        self.subject, self.headers, self.data = envelope.subject, envelope.headers(), envelope.body

    async def ack_sync(self) -> None:
        return None


class Streams:
    """Per-producer message lists, as JetStream would deliver them."""

    def __init__(self, first_id: int) -> None:
        self.messages: dict[str, list[InMemoryMsg]] = {}
        self._n = first_id

    def publish(
        self, producer: str, subject: str, message: Message, case_id: str, at: datetime
    ) -> None:
        self._n += 1
        envelope = Envelope(
            id=f"bench-{self._n:08d}",
            type=codec.type_name(message),
            source=f"/cityops/{producer}",
            subject=subject,
            case_id=case_id,
            time=at,
            body=message.SerializeToString(),
        )
        self.messages.setdefault(producer, []).append(InMemoryMsg(envelope))


def publish_round(streams: Streams, first_case: int, cases: int) -> None:
    """One round of case stories, stream by stream, each stream in case order."""
    numbers = range(first_case, first_case + cases)
    ids = {n: f"C-{n:07d}" for n in numbers}

    def when(n: int, step: int) -> datetime:
        return T0 + timedelta(minutes=n, seconds=step)

    def place(n: int) -> common_pb2.Place:
        point = common_pb2.GeoPoint(latitude=31.2 + n % 97 * 1e-3, longitude=121.4 + n % 89 * 1e-3)
        return common_pb2.Place(point=point, district_code=f"31010{n % 9 + 1}")

    def actor(n: int) -> common_pb2.Actor:
        dept = DEPARTMENTS[n % len(DEPARTMENTS)]
        return common_pb2.Actor(
            user_id=f"u-{n % 50}", department_id=dept, role=common_pb2.ACTOR_ROLE_DEPARTMENT_USER
        )

    def evidence(n: int) -> list[common_pb2.EvidenceRef]:
        digest = hashlib.sha256(f"photo-{n}".encode()).hexdigest()
        return [common_pb2.EvidenceRef(uri=f"s3://evidence/{n}.jpg", sha256=digest)]

    for n in numbers:
        detection = detection_pb2.Detection(
            detection_id=f"det-{n}",
            source_kind=detection_pb2.SOURCE_KIND_VIDEO_AI,
            source_id=f"cam-{n % 400}",
            device_id=f"cam-{n % 400}",
            category_code="E0101",
            confidence=0.91,
            place=place(n),
            observed_at=stamp(when(n, 0)),
        )
        streams.publish(
            "detection",
            subjects.DETECTION_REPORTED,
            detection_events.DetectionReported(detection=detection),
            "",
            when(n, 0),
        )
    for n in numbers:
        case = case_pb2.Case(
            case_id=ids[n],
            category_code="E0101",
            title="暴露垃圾",
            place=place(n),
            detection_ids=[f"det-{n}"],
        )
        streams.publish(
            "intake",
            subjects.CASE_FILED,
            intake_events.CaseFiled(case=case),
            ids[n],
            when(n, 1),
        )
    for n in numbers:
        dispatched = dispatch_events.CaseDispatched(
            case_id=ids[n],
            dispatch_id=f"dsp-{n}",
            department_id=DEPARTMENTS[n % len(DEPARTMENTS)],
            deadline=stamp(when(n, 1) + timedelta(hours=24)),
            role=dispatch_events.DISPATCH_ROLE_LEAD,
        )
        streams.publish("dispatch", subjects.CASE_DISPATCHED, dispatched, ids[n], when(n, 2))
    order = {n: f"wo-{n}" for n in numbers}
    for n in numbers:
        created = workorder_events.WorkOrderCreated(
            work_order=work_order_pb2.WorkOrder(
                order_id=order[n],
                case_id=ids[n],
                department_id=DEPARTMENTS[n % len(DEPARTMENTS)],
                category_code="E0101",
                place=place(n),
            )
        )
        streams.publish("workorders", subjects.WORKORDER_CREATED, created, ids[n], when(n, 3))
    for n in numbers:
        accepted = workorder_events.WorkOrderAccepted(
            order_id=order[n], case_id=ids[n], department_id=actor(n).department_id, actor=actor(n)
        )
        streams.publish("workorders", subjects.WORKORDER_ACCEPTED, accepted, ids[n], when(n, 4))
    for n in numbers:
        progressed = workorder_events.WorkOrderProgressed(
            order_id=order[n],
            case_id=ids[n],
            department_id=actor(n).department_id,
            actor=actor(n),
            note="清运中",
            evidence=evidence(n),
        )
        streams.publish("workorders", subjects.WORKORDER_PROGRESSED, progressed, ids[n], when(n, 5))
    for n in numbers:
        completed = workorder_events.WorkOrderCompleted(
            order_id=order[n],
            case_id=ids[n],
            department_id=actor(n).department_id,
            actor=actor(n),
            note="已清运",
            evidence=evidence(n + 1),
        )
        streams.publish("workorders", subjects.WORKORDER_COMPLETED, completed, ids[n], when(n, 6))
    inspector = common_pb2.Actor(
        user_id="u-insp", department_id="D90-inspection", role=common_pb2.ACTOR_ROLE_INSPECTOR
    )
    for n in numbers:
        verified = audit_events.CaseVerified(
            case_id=ids[n], verification_id=f"ver-{n}", verifier=inspector
        )
        streams.publish("audit", subjects.CASE_VERIFIED, verified, ids[n], when(n, 7))
    for n in numbers:
        closed = audit_events.CaseClosed(case_id=ids[n], reason_code="RESOLVED")
        streams.publish("audit", subjects.CASE_CLOSED, closed, ids[n], when(n, 8))


INSPECTOR = Caller("u-insp", "inspector", "D90-inspection")
OPERATOR = Caller("u-op", "operator", "D00-centre")


async def verify_and_close(runtime: BenchRuntime, first_case: int, cases: int) -> None:
    """核查 and 结案 through the gRPC handlers (what moves a case on; the
    CaseVerified / CaseClosed events on the audit stream only record it), so
    cases do not pile up awaiting verification."""
    for n in range(first_case, first_case + cases):
        case_id = f"C-{n:07d}"
        await handlers.verify_case(
            VerifyCase(f"v-{n}", case_id, passed=True), INSPECTOR, runtime.uow()
        )
        await handlers.close_case(CloseCase(f"c-{n}", case_id, "RESOLVED"), OPERATOR, runtime.uow())


class BenchRuntime:
    """The part of svckit's ServiceRuntime that `subscribe_all` uses: it builds
    the same pull workers, on in-memory streams instead of JetStream."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.workers: dict[str, PullWorker[AuditUnitOfWork]] = {}

    def uow(self) -> AuditUnitOfWork:
        return AuditUnitOfWork(self.engine, "audit")

    async def subscribe(
        self, producer: str, handler: Any, prepare: Any = None
    ) -> PullWorker[AuditUnitOfWork]:
        worker = PullWorker[AuditUnitOfWork](
            consumer=f"audit-{producer}",
            subscription=cast(Any, None),
            stream=producer.upper(),
            uow_factory=self.uow,
            handler=handler,
            batch=BATCH,
            prepare=prepare,
        )
        self.workers[producer] = worker
        return worker


async def appends(workdir: Path, cases: int) -> None:
    url = f"sqlite+aiosqlite:///{workdir / 'appends.db'}"
    engine = db.create_engine(url)
    await db.create_tables(engine)
    settings = AuditSettings(
        data_dir=workdir,
        signing_key_seed=SecretStr(base64.b64encode(SEED).decode()),
        tree_head_every_entries=HEAD_EVERY,
    )
    runtime = BenchRuntime(engine)
    await subscribe_all(cast(Any, runtime), build_context(settings))

    durations: list[float] = []
    events, cpu = 0, 0.0
    for first in range(0, cases, BATCH):
        streams = Streams(first_id=events)
        publish_round(streams, first, min(BATCH, cases - first))
        for producer in ("detection", "intake", "dispatch", "workorders", "audit"):
            if producer == "audit":  # not timed: the verdicts whose events follow
                await verify_and_close(runtime, first, min(BATCH, cases - first))
            messages = streams.messages[producer]
            for i in range(0, len(messages), BATCH):
                batch = messages[i : i + BATCH]
                began, cpu_began = time.perf_counter(), time.process_time()
                await runtime.workers[producer].handle_batch(cast(list[Msg], batch))
                durations.append(time.perf_counter() - began)
                cpu += time.process_time() - cpu_began
                events += len(batch)
    seconds = sum(durations)  # batches only: not making messages, nor the verdicts
    async with runtime.uow().snapshot() as view:
        recorded = await view.ledger.last_sequence()
    await engine.dispose()
    print(
        f"ledger appends              {recorded / seconds:8.0f}/s  ({recorded} entries in {seconds:.2f} s)"
    )
    print(
        f"per batch of {BATCH}            p50 {percentile(durations, 0.5) * 1000:7.1f} ms"
        f"   p99 {percentile(durations, 0.99) * 1000:7.1f} ms   ({len(durations)} batches)"
    )
    print(
        f"CPU per append              {cpu / recorded * 1000:8.2f} ms  (wall time varies with load)"
    )
    if recorded != events:
        print(f"!! {events} events handled but {recorded} entries recorded")


# --- 2. verification ---------------------------------------------------------------


def ledger_facts(count: int) -> Iterator[EventFacts]:
    """Dispatch-like entries with real protobuf bodies (about what a ledger holds)."""
    for n in range(1, count + 1):
        case_id, dept = f"C-{n // 9:07d}", DEPARTMENTS[n % len(DEPARTMENTS)]
        body = dispatch_events.CaseDispatched(
            case_id=case_id,
            dispatch_id=f"dsp-{n}",
            department_id=dept,
            role=dispatch_events.DISPATCH_ROLE_LEAD,
        ).SerializeToString()
        yield EventFacts(
            event_id=f"evt-{n:09d}",
            event_type="cityops.dispatch.v1.CaseDispatched",
            subject=subjects.CASE_DISPATCHED,
            producer="dispatch",
            case_id=case_id,
            occurred_at=T0 + timedelta(seconds=n),
            summary=f"派遣至 {dept}",
            payload_sha256=payload_sha256(body),
            department_id=dept,
            payload=body,
        )


async def build_ledger(url: str, entries: int, signer: Ed25519Signer) -> None:
    """Write `entries` entries through the ledger repository (no handler, no
    cases): the rows verification reads are exactly what appends write."""
    engine = db.create_engine(url)
    await db.create_tables(engine)
    facts = ledger_facts(entries)
    written = 0
    while written < entries:
        async with AuditUnitOfWork(engine, "audit") as uow:
            tip = await uow.ledger.tip()
            for item in (next(facts) for _ in range(min(BUILD_CHUNK, entries - written))):
                n = tip.size + 1
                entry, nodes = ledger.append(
                    tip,
                    item,
                    recorded_at=item.occurred_at + timedelta(milliseconds=5),
                    trace_id=f"{n:032x}",
                    span_id=f"{n:016x}",
                )
                uow.ledger.append(entry, nodes, tip)
                if tip.size % HEAD_EVERY == 0:
                    sign_head(uow, tip, signer)
            await uow.commit()
            written = tip.size
    await engine.dispose()


def verify(url: str, public_key: bytes) -> tuple[float, int, str, Any]:
    """Run the CLI as an auditor would: wall seconds, exit status, its output,
    its resource usage."""
    command = [
        sys.executable,
        "-m",
        "audit",
        "verify-ledger",
        "--database-url",
        url,
        "--public-key",
        base64.b64encode(public_key).decode(),
    ]
    start = time.perf_counter()
    # Not subprocess.run: os.wait4 reaps the child with its own resource usage.
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = cast(IO[bytes], child.stdout).read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, child.returncode, output.strip(), usage


def verification(workdir: Path, entries: int) -> None:
    path = workdir / "ledger.db"
    url = f"sqlite+aiosqlite:///{path}"
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(SEED))
    start = time.perf_counter()
    asyncio.run(build_ledger(url, entries, signer))
    built = time.perf_counter() - start
    size = sum(p.stat().st_size for p in workdir.glob("ledger.db*"))
    print(
        f"built ledger                {entries} entries in {built:.1f} s ({size / 2**20:.0f} MiB)"
    )
    seconds, status, output, usage = verify(url, signer.public_key)
    print(
        f"verify-ledger               {seconds:8.1f} s  ({entries / seconds:,.0f} entries/s), exit {status}"
    )
    print(f"verify-ledger CPU           {usage.ru_utime + usage.ru_stime:8.1f} s")
    print(f"verify-ledger peak RSS      {usage.ru_maxrss / 1024:8.0f} MiB")
    print(f"  {output[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", type=int, default=1280, help="case stories to append (9 events each)"
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger size to verify")
    parser.add_argument("--keep", type=Path, help="keep the databases and the log in this folder")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep:
            workdir = args.keep
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audit-bench-")))
        log = stack.enter_context(open(workdir / "audit.log", "w"))
        with contextlib.redirect_stderr(log):
            configure_logging("audit", "info")  # as the service logs, into the file
        print(f"audit bench: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        if args.cases:
            asyncio.run(appends(workdir, args.cases))
        if args.entries:
            verification(workdir, args.entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
