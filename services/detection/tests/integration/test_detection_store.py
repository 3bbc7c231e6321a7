"""Repository and handlers on SQLite and PostgreSQL: one detection per source event."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from detection.adapters.repository import DetectionRepository
from detection.adapters.tables import DetectionRow
from detection.domain import rules
from detection.domain.commands import EvidenceInput, ReportDetection
from detection.domain.model import Detection
from detection.service_layer import handlers
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit import db
from svckit.clock import utcnow
from svckit.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from svckit.tables import OutboxMessage

UowFactory = Callable[[], DetectionUnitOfWork]


@pytest.fixture
def report(policy: rules.IngestPolicy) -> ReportDetection:
    lat, lon = policy.city.random_point(random.Random(3))
    return ReportDetection(
        source_id="cam-7",
        source_event_id="evt-1",
        source_kind="iot",
        category_code="C0101",
        latitude=lat,
        longitude=lon,
        observed_at=utcnow().isoformat(),
        confidence=0.9,
        raw_payload_sha256="c" * 64,
        certainty="Likely",
        evidence=(EvidenceInput("s3://ev/1.jpg", "d" * 64, "image/jpeg", 99),),
    )


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UowFactory:
    return lambda: DetectionUnitOfWork(db_engine, "detection")


async def count(engine: AsyncEngine, table: type[SQLModel]) -> int:
    async with db.session_factory(engine)() as session:
        return len((await session.exec(select(table))).all())


def detection(report: ReportDetection, policy: rules.IngestPolicy, detection_id: str) -> Detection:
    return rules.normalise(report, policy, detection_id=detection_id, received_at=utcnow())


async def test_a_detection_round_trips_through_the_store(
    uow: UowFactory, report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    stored = detection(report, policy, "d-1")
    async with uow() as u:
        await u.detections.add(stored)
        await u.commit()
    async with uow() as u:
        assert await u.detections.get("d-1") == stored
        assert await u.detections.find_by_key("cam-7:evt-1") == stored
        assert await u.detections.get("d-2") is None
        assert await u.detections.find_by_key("cam-7:evt-2") is None


async def test_the_store_refuses_a_second_row_for_one_idempotency_key(
    uow: UowFactory, db_engine: AsyncEngine, report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    async with uow() as u:
        await u.detections.add(detection(report, policy, "d-1"))
        await u.commit()
    with pytest.raises(AlreadyExistsError):
        async with uow() as u:
            # Queued, and refused when written (at commit).
            await u.detections.add(detection(report, policy, "d-2"))
            await u.commit()
    async with db.session_factory(db_engine)() as session:
        rows = (await session.exec(select(DetectionRow))).all()
    assert [r.detection_id for r in rows] == ["d-1"]


async def test_the_same_source_event_twice_is_one_detection_and_one_event(
    uow: UowFactory, db_engine: AsyncEngine, report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    first = await handlers.report_detection(report, uow(), policy)
    again = await handlers.report_detection(replace(report, confidence=0.1), uow(), policy)
    assert not first.duplicate
    assert again.duplicate and again.detection_id == first.detection_id
    assert await count(db_engine, DetectionRow) == 1
    assert await count(db_engine, OutboxMessage) == 1


async def test_losing_the_race_on_the_key_returns_the_winner(
    uow: UowFactory,
    db_engine: AsyncEngine,
    report: ReportDetection,
    policy: rules.IngestPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = await handlers.report_detection(report, uow(), policy)
    original = DetectionRepository.find_by_key
    calls = 0

    async def not_yet_committed(self: DetectionRepository, key: str) -> Detection | None:
        # The other writer commits between our check and our insert.
        nonlocal calls
        calls += 1
        return None if calls == 1 else await original(self, key)

    monkeypatch.setattr(DetectionRepository, "find_by_key", not_yet_committed)
    loser = await handlers.report_detection(report, uow(), policy)
    assert loser.duplicate and loser.detection_id == winner.detection_id
    assert calls == 2
    assert await count(db_engine, DetectionRow) == 1
    assert await count(db_engine, OutboxMessage) == 1


async def test_an_invalid_report_stores_and_publishes_nothing(
    uow: UowFactory, db_engine: AsyncEngine, report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    with pytest.raises(rules.InvalidReportError):
        await handlers.report_detection(replace(report, category_code="X0000"), uow(), policy)
    assert await count(db_engine, DetectionRow) == 0
    assert await count(db_engine, OutboxMessage) == 0


async def test_get_detection_refuses_empty_and_unknown_ids(
    uow: UowFactory, report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    accepted = await handlers.report_detection(report, uow(), policy)
    found = await handlers.get_detection(accepted.detection_id, uow())
    assert found.idempotency_key == "cam-7:evt-1"
    with pytest.raises(InvalidArgumentError):
        await handlers.get_detection(" ", uow())
    with pytest.raises(NotFoundError):
        await handlers.get_detection("nope", uow())
