"""A batch of source messages through `handlers.ingest_each` on SQLite and
PostgreSQL: one commit for the whole batch, yet each message answered, stored
and published exactly as it would be alone."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.detection.v1 import events_pb2
from detection.adapters.repository import DetectionRepository
from detection.adapters.sources import cap
from detection.adapters.tables import DetectionRow
from detection.bootstrap import Reference
from detection.domain.commands import ReportDetection, SourceMessage
from detection.domain.model import Detection, DetectionStatus
from detection.domain.problems import InvalidReportError
from detection.service_layer import handlers
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit import db
from svckit.clock import utcnow
from svckit.messaging import codec
from svckit.tables import OutboxMessage
from svckit.testing.statements import listening

UowFactory = Callable[[], DetectionUnitOfWork]
SHA = "e" * 64


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UowFactory:
    return lambda: DetectionUnitOfWork(db_engine, "detection")


def report(reference: Reference, event_id: str, seed: int = 0) -> ReportDetection:
    lat, lon = reference.policy.city.random_point(random.Random(seed))
    return ReportDetection(
        source_id="ce/hotline",
        source_event_id=event_id,
        source_kind="citizen",
        category_code="E0505",
        latitude=lat,
        longitude=lon,
        observed_at=utcnow().isoformat(),
        confidence=0.6,
        raw_payload_sha256=SHA,
    )


def alone(*reports: ReportDetection) -> SourceMessage:
    return SourceMessage(reports=reports)


async def stored_keys(engine: AsyncEngine) -> set[str]:
    async with db.session_factory(engine)() as session:
        return {r.idempotency_key for r in (await session.exec(select(DetectionRow))).all()}


async def outbox_keys(engine: AsyncEngine) -> list[str]:
    """The idempotency key of each detection the outbox announces, oldest first."""
    async with db.session_factory(engine)() as session:
        found = (await session.exec(select(OutboxMessage))).all()
    keys = []
    for row in sorted(found, key=lambda r: r.position or 0):
        message = codec.decode(row.event_type, row.body)
        assert isinstance(message, events_pb2.DetectionReported)
        keys.append(message.detection.idempotency_key)
    return keys


@contextmanager
def commits(engine: AsyncEngine, statements: list[str] | None = None) -> Iterator[list[str]]:
    """Every real commit on the engine while open (and every statement, into
    `statements`); on SQLite also a check, at each savepoint's release, that
    another connection sees none of the batch's rows yet (a release that
    committed on its own would show them)."""
    seen: list[str] = []
    path = engine.url.database if db.is_sqlite(engine) else None

    def outside() -> int:
        with contextlib.closing(sqlite3.connect(path or "")) as reader:
            query = f"SELECT count(*) FROM {DetectionRow.__tablename__}"
            return int(reader.execute(query).fetchone()[0])

    before = outside() if path else 0
    at_releases: list[int] = []

    def on_commit(_: Any) -> None:
        seen.append("commit")

    def after_execute(*args: Any) -> None:
        statement: str = args[2]
        if statements is not None:
            statements.append(statement)
        if path and statement.startswith("RELEASE SAVEPOINT"):
            at_releases.append(outside())

    with listening(engine, commit=on_commit, after_cursor_execute=after_execute):
        yield seen
    assert all(n == before for n in at_releases), (before, at_releases)


def writes_to(table: str, statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith(("INSERT", "UPDATE")) and f" {table}" in s]


async def test_a_batch_of_new_reports_is_stored_with_one_commit(
    reference: Reference, uow: UowFactory, db_engine: AsyncEngine
) -> None:
    batch = [alone(report(reference, f"evt-{i}", i)) for i in range(40)]
    statements: list[str] = []
    with commits(db_engine, statements) as seen:
        answers = await handlers.ingest_each(batch, uow(), reference.policy)
    assert seen == ["commit"]
    # One look-up for the batch's keys, one insert of its rows, no savepoints.
    assert len(writes_to(DetectionRow.__tablename__, statements)) == 1
    assert len([s for s in statements if "idempotency_key IN" in s]) == 1
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert all(isinstance(a, handlers.Outcome) and a.changed for a in answers)
    keys = [f"ce/hotline:evt-{i}" for i in range(40)]
    assert await stored_keys(db_engine) == set(keys)
    assert await outbox_keys(db_engine) == keys


async def test_each_message_of_a_batch_is_answered_as_it_would_be_alone(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    earlier = await handlers.ingest(alone(report(reference, "earlier")), uow(), reference.policy)
    new, later = report(reference, "new", 1), report(reference, "later", 2)
    drill = cap.parse(
        fixture_bytes("cap_flooding_exercise.xml"), reference.sources.vendors["cap"], SHA
    )
    batch = [
        alone(new),
        alone(report(reference, "earlier")),
        alone(replace(new, confidence=0.1)),  # the same source event again, in this batch
        alone(replace(report(reference, "odd"), category_code="X0000")),
        drill,
        alone(later),
    ]
    with commits(db_engine) as seen:
        answers = await handlers.ingest_each(batch, uow(), reference.policy)
    assert seen == ["commit"]

    first, repeat, again, refused, exercise, last = answers
    assert isinstance(first, handlers.Outcome) and first.changed
    assert isinstance(repeat, handlers.Outcome) and not repeat.changed
    assert repeat.detections[0].duplicate
    assert repeat.detections[0].detection_id == earlier.detections[0].detection_id
    assert isinstance(again, handlers.Outcome) and not again.changed
    assert again.detections[0].duplicate
    assert again.detections[0].detection_id == first.detections[0].detection_id
    assert isinstance(refused, InvalidReportError) and "category" in str(refused)
    assert isinstance(exercise, handlers.Outcome) and exercise.changed
    assert not exercise.published and not exercise.detections[0].published
    assert isinstance(last, handlers.Outcome) and last.changed

    drill_key = drill.reports[0].source_id + ":" + drill.reports[0].source_event_id
    assert await stored_keys(db_engine) == {
        "ce/hotline:earlier",
        "ce/hotline:new",
        "ce/hotline:later",
        drill_key,
    }
    # Published: the earlier report (before the batch), then only the batch's new ones.
    assert await outbox_keys(db_engine) == [
        "ce/hotline:earlier",
        "ce/hotline:new",
        "ce/hotline:later",
    ]


async def test_a_refused_message_leaves_no_row_and_none_of_its_queued_events(
    reference: Reference, uow: UowFactory, db_engine: AsyncEngine
) -> None:
    # The first report is accepted and its event queued before the second is
    # refused: the message must be undone whole, its queued event included.
    accepted_then_undone = report(reference, "undone", 1)
    outside = replace(report(reference, "outside"), latitude=39.9, longitude=116.4)
    kept = report(reference, "kept", 2)
    answers = await handlers.ingest_each(
        [alone(accepted_then_undone, outside), alone(kept)], uow(), reference.policy
    )
    assert isinstance(answers[0], InvalidReportError)
    assert isinstance(answers[1], handlers.Outcome) and answers[1].changed
    assert await stored_keys(db_engine) == {"ce/hotline:kept"}
    assert await outbox_keys(db_engine) == ["ce/hotline:kept"]


async def test_a_batch_of_refusals_only_stores_and_publishes_nothing(
    reference: Reference, uow: UowFactory, db_engine: AsyncEngine
) -> None:
    odd = replace(report(reference, "odd"), category_code="X0000")
    answers = await handlers.ingest_each([alone(odd), alone(odd)], uow(), reference.policy)
    assert all(isinstance(a, InvalidReportError) for a in answers)
    assert await handlers.ingest_each([], uow(), reference.policy) == []
    assert await stored_keys(db_engine) == set()
    assert await outbox_keys(db_engine) == []


async def test_losing_the_race_on_a_key_falls_back_to_one_transaction_per_message(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = await handlers.ingest(alone(report(reference, "raced")), uow(), reference.policy)
    original = DetectionRepository.find_by_key
    checks: list[str] = []

    async def not_yet_committed(self: DetectionRepository, key: str) -> Detection | None:
        # Another replica commits "raced" between our first check and our insert.
        checks.append(key)
        if checks.count("ce/hotline:raced") == 1 and key == "ce/hotline:raced":
            return None
        return await original(self, key)

    monkeypatch.setattr(DetectionRepository, "find_by_key", not_yet_committed)
    batch = [
        alone(report(reference, "before", 1)),
        alone(report(reference, "raced")),
        alone(replace(report(reference, "odd"), category_code="X0000")),
    ]
    with commits(db_engine) as seen:
        answers = await handlers.ingest_each(batch, uow(), reference.policy)
    # The batch's transaction was rolled back; each message then committed alone.
    assert seen == ["commit", "commit"]
    assert checks.count("ce/hotline:raced") == 2
    before, raced, refused = answers
    assert isinstance(before, handlers.Outcome) and before.changed
    assert isinstance(raced, handlers.Outcome) and not raced.changed
    assert raced.detections[0].detection_id == winner.detections[0].detection_id
    assert isinstance(refused, InvalidReportError)
    assert await stored_keys(db_engine) == {"ce/hotline:raced", "ce/hotline:before"}
    assert await outbox_keys(db_engine) == ["ce/hotline:raced", "ce/hotline:before"]


async def test_each_message_has_its_own_span_and_its_events_carry_it(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    spans: InMemorySpanExporter,
) -> None:
    batch = [alone(report(reference, f"evt-{i}", i)) for i in range(2)]
    await handlers.ingest_each(batch, uow(), reference.policy)
    items = [s for s in spans.get_finished_spans() if s.name == "detection.ingest_item"]
    assert [(s.attributes or {}).get("cityops.batch.index") for s in items] == [0, 1]
    assert [(s.attributes or {}).get("cityops.idempotency_key") for s in items] == [
        "ce/hotline:evt-0",
        "ce/hotline:evt-1",
    ]
    async with db.session_factory(db_engine)() as session:
        found = (await session.exec(select(OutboxMessage))).all()
    rows = sorted(found, key=lambda r: r.position or 0)
    parents = [json.loads(r.headers)["traceparent"].split("-")[2] for r in rows]
    assert parents == [format(s.context.span_id, "016x") for s in items if s.context]


async def test_an_update_in_a_batch_supersedes_a_report_queued_earlier_in_it(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    vendor = reference.sources.vendors["cap"]
    alert = cap.parse(fixture_bytes("cap_gas_leak_alert.xml"), vendor, SHA)
    update = cap.parse(fixture_bytes("cap_gas_leak_update.xml"), vendor, SHA)
    odd = replace(report(reference, "odd"), category_code="X0000")
    batch = [alone(report(reference, "plain", 1)), alert, alone(odd), update]
    statements: list[str] = []
    with commits(db_engine, statements) as seen:
        answers = await handlers.ingest_each(batch, uow(), reference.policy)
    assert seen == ["commit"]
    plain, first, refused, second = answers
    assert isinstance(refused, InvalidReportError)
    assert isinstance(first, handlers.Outcome) and isinstance(second, handlers.Outcome)
    assert second.detections[0].supersedes_detection_id == first.detections[0].detection_id
    # Only the update, which changes a stored detection, needed a real savepoint;
    # the rows queued before it were written first, so it could find the alert.
    assert len([s for s in statements if s.startswith("SAVEPOINT")]) == 1
    async with uow() as u:
        earlier = await u.detections.get(first.detections[0].detection_id)
    assert earlier is not None and earlier.status is DetectionStatus.SUPERSEDED
    assert isinstance(plain, handlers.Outcome)
    assert await stored_keys(db_engine) == {
        "ce/hotline:plain",
        alert.reports[0].source_id + ":" + alert.reports[0].source_event_id,
        update.reports[0].source_id + ":" + update.reports[0].source_event_id,
    }
