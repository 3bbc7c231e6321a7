"""Raw detections past the retention period are purged in batches, on both
stores; what a raised IoT alarm still names is kept so it can be cleared."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from detection.domain import rules
from detection.domain.commands import ReportDetection
from detection.domain.iot import AlarmState
from detection.service_layer.retention import purge_expired
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import utcnow

UowFactory = Callable[[], DetectionUnitOfWork]
KEEP = timedelta(days=90)


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UowFactory:
    return lambda: DetectionUnitOfWork(db_engine, "detection")


async def store(uow: UowFactory, policy: rules.IngestPolicy, ages_days: dict[str, float]) -> None:
    lat, lon = policy.city.random_point(random.Random(5))
    now = utcnow()
    async with uow() as u:
        for detection_id, age in ages_days.items():
            report = ReportDetection(
                source_id="cam-9",
                source_event_id=detection_id,
                source_kind="video_ai",
                category_code="C0101",
                latitude=lat,
                longitude=lon,
                observed_at=(now - timedelta(days=age)).isoformat(),
                confidence=0.9,
                raw_payload_sha256="c" * 64,
            )
            normal = rules.normalise(
                report,
                policy,
                detection_id=detection_id,
                received_at=now - timedelta(days=age),
            )
            await u.detections.add(normal)
        await u.commit()


async def remaining(uow: UowFactory, ids: list[str]) -> set[str]:
    async with uow() as u:
        return {i for i in ids if await u.detections.get(i) is not None}


async def test_expired_detections_go_in_batches_and_recent_ones_stay(
    uow: UowFactory, policy: rules.IngestPolicy
) -> None:
    ages = {"old-1": 200, "old-2": 120, "old-3": 91, "edge": 89.9, "new": 1}
    await store(uow, policy, ages)
    first = await purge_expired(uow, now=utcnow(), keep=KEEP, batch=2)
    assert first is True  # a full batch: more may wait
    assert await remaining(uow, list(ages)) == {"old-3", "edge", "new"}  # oldest first
    second = await purge_expired(uow, now=utcnow(), keep=KEEP, batch=2)
    assert second is False
    assert await remaining(uow, list(ages)) == {"edge", "new"}
    assert await purge_expired(uow, now=utcnow(), keep=KEEP, batch=2) is False


async def test_a_detection_a_raised_alarm_names_is_kept_until_the_alarm_clears(
    uow: UowFactory, policy: rules.IngestPolicy
) -> None:
    await store(uow, policy, {"alarm": 300, "other": 300})
    async with uow() as u:
        await u.alarms.save(AlarmState("gas-7", "ppm", raised=True, detection_id="alarm"))
        await u.commit()
    await purge_expired(uow, now=utcnow(), keep=KEEP, batch=100)
    assert await remaining(uow, ["alarm", "other"]) == {"alarm"}
    async with uow() as u:
        await u.alarms.save(AlarmState("gas-7", "ppm", raised=False, detection_id=""))
        await u.commit()
    await purge_expired(uow, now=utcnow(), keep=KEEP, batch=100)
    assert await remaining(uow, ["alarm"]) == set()
