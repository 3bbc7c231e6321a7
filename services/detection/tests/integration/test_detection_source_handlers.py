"""Source messages through the handlers on SQLite and PostgreSQL: CAP updates and
cancels, exercises, cleared alarms, IoT hysteresis across restarts, and no
partial writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from cityops.detection.v1 import events_pb2
from detection.adapters.sources import cap, hikvision
from detection.adapters.tables import DetectionRow, IotAlarmRow
from detection.bootstrap import Reference
from detection.domain.commands import RecordTelemetry, SourceMessage
from detection.domain.model import DetectionStatus, WithdrawalKind
from detection.domain.problems import InvalidReportError
from detection.service_layer import handlers
from detection.service_layer.telemetry import record_telemetry
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit import db
from svckit.clock import utcnow
from svckit.messaging import codec
from svckit.tables import InboxMessage, OutboxMessage

UowFactory = Callable[[], DetectionUnitOfWork]
SHA = "d" * 64


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UowFactory:
    return lambda: DetectionUnitOfWork(db_engine, "detection")


async def rows(engine: AsyncEngine, table: type[SQLModel]) -> list[SQLModel]:
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(table))).all())


async def events(engine: AsyncEngine) -> list[tuple[str, object]]:
    """(subject, decoded message) of every outbox row, oldest first."""
    found = await rows(engine, OutboxMessage)
    return [
        (r.subject, codec.decode(r.event_type, r.body))  # type: ignore[attr-defined]
        for r in sorted(found, key=lambda r: r.position)  # type: ignore[attr-defined]
    ]


async def ingest_cap(ref: Reference, uow: UowFactory, raw: bytes) -> handlers.Outcome:
    return await handlers.ingest(cap.parse(raw, ref.sources.vendors["cap"], SHA), uow(), ref.policy)


async def test_an_update_supersedes_and_a_cancel_withdraws_with_one_event_each(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    alert = await ingest_cap(reference, uow, fixture_bytes("cap_gas_leak_alert.xml"))
    update = await ingest_cap(reference, uow, fixture_bytes("cap_gas_leak_update.xml"))
    first, second = alert.detections[0].detection_id, update.detections[0].detection_id
    assert update.detections[0].supersedes_detection_id == first
    cancel = await ingest_cap(reference, uow, fixture_bytes("cap_gas_leak_cancel.xml"))
    assert cancel.withdrawn == (second,) and cancel.changed
    again = await ingest_cap(reference, uow, fixture_bytes("cap_gas_leak_cancel.xml"))
    assert again.withdrawn == (second,) and not again.changed

    async with uow() as u:
        earlier, later = await u.detections.get(first), await u.detections.get(second)
    assert earlier is not None and earlier.status is DetectionStatus.SUPERSEDED
    assert later is not None and later.status is DetectionStatus.WITHDRAWN
    assert later.withdrawal_kind is WithdrawalKind.CANCELLED
    assert "sensor fault" in later.withdrawal_reason

    published = await events(db_engine)
    assert [s for s, _ in published] == [
        "cityops.detection.detection.reported",
        "cityops.detection.detection.reported",
        "cityops.detection.detection.withdrawn",
    ]
    withdrawn = published[2][1]
    assert isinstance(withdrawn, events_pb2.DetectionWithdrawn)
    assert withdrawn.detection_id == second
    assert withdrawn.kind == events_pb2.WITHDRAWAL_KIND_CANCELLED


async def test_a_cancel_needs_a_known_report_of_its_own_sender(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    cancel = fixture_bytes("cap_gas_leak_cancel.xml")
    with pytest.raises(InvalidReportError, match="references"):
        await ingest_cap(reference, uow, cancel)
    await ingest_cap(reference, uow, fixture_bytes("cap_gas_leak_alert.xml"))
    # Another sender citing the alert cannot withdraw it.
    forged = cancel.replace(
        b"<sender>scada@gas.sample-city.gov.cn</sender>", b"<sender>mallory@example.com</sender>"
    )
    with pytest.raises(InvalidReportError, match="references"):
        await ingest_cap(reference, uow, forged)
    future = cancel.replace(
        b"<sent>2025-06-01T09:40:00+08:00</sent>", b"<sent>2999-01-01T00:00:00Z</sent>"
    )
    with pytest.raises(InvalidReportError, match="future"):
        await ingest_cap(reference, uow, future)
    assert len(await rows(db_engine, InboxMessage)) == 0
    assert len(await events(db_engine)) == 1


async def test_an_exercise_is_stored_but_never_published(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    drill = await ingest_cap(reference, uow, fixture_bytes("cap_flooding_exercise.xml"))
    assert not drill.published and not drill.detections[0].published and drill.changed
    stored = await rows(db_engine, DetectionRow)
    assert len(stored) == 1 and stored[0].exercise  # type: ignore[attr-defined]
    assert await events(db_engine) == []
    again = await ingest_cap(reference, uow, fixture_bytes("cap_flooding_exercise.xml"))
    assert again.detections[0].duplicate and not again.detections[0].published


async def test_an_inactive_video_alarm_clears_its_active_detections(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_json: Callable[[str], object],
) -> None:
    vendor, cameras = reference.sources.vendors["hikvision"], reference.sources.cameras
    active = fixture_json("hikvision_road_damage_active.json")
    later = dict(active) | {"dateTime": "2025-06-01T10:20:27+08:00"}  # type: ignore[arg-type]
    for alarm in (active, later):
        await handlers.ingest(hikvision.parse(alarm, vendor, cameras, SHA), uow(), reference.policy)
    inactive = hikvision.parse(
        fixture_json("hikvision_road_damage_inactive.json"), vendor, cameras, SHA
    )
    cleared = await handlers.ingest(inactive, uow(), reference.policy)
    assert len(cleared.withdrawn) == 2
    again = await handlers.ingest(inactive, uow(), reference.policy)
    assert again.withdrawn == () and not again.changed
    kinds = [m.kind for s, m in await events(db_engine) if s.endswith("withdrawn")]  # type: ignore[attr-defined]
    assert kinds == [events_pb2.WITHDRAWAL_KIND_CLEARED] * 2


async def test_a_message_with_one_bad_report_writes_nothing(
    reference: Reference,
    uow: UowFactory,
    db_engine: AsyncEngine,
    fixture_bytes: Callable[[str], bytes],
) -> None:
    (good,) = cap.parse(
        fixture_bytes("cap_gas_leak_alert.xml"), reference.sources.vendors["cap"], SHA
    ).reports
    bad = replace(good, source_event_id="other", latitude=39.9, longitude=116.4)
    with pytest.raises(InvalidReportError):
        await handlers.ingest(SourceMessage(reports=(good, bad)), uow(), reference.policy)
    assert await rows(db_engine, DetectionRow) == []
    assert await rows(db_engine, OutboxMessage) == []


def reading(value: float, seconds: int, device: str = "gas-hb-0001") -> RecordTelemetry:
    at = (utcnow() - timedelta(hours=1) + timedelta(seconds=seconds)).isoformat()
    return RecordTelemetry(device, at, {"gas_ppm": value, "battery_v": 3.6}, SHA)


async def test_a_flapping_gas_sensor_files_one_detection_until_cleared_even_across_restarts(
    reference: Reference, database_url: str
) -> None:
    url = database_url

    async def run(values: list[tuple[float, int]]) -> list[handlers.Outcome]:
        engine = db.create_engine(url)  # a fresh engine: the service restarted
        await db.create_tables(engine)
        try:
            return [
                await record_telemetry(
                    reading(v, s),
                    DetectionUnitOfWork(engine, "detection"),
                    reference.policy,
                    reference.iot,
                )
                for v, s in values
            ]
        finally:
            await engine.dispose()

    first = await run([(10, 0), (80, 1), (45, 2), (90, 3)])
    second = await run([(49, 4), (51, 5), (90, 3), (15, 6)])
    raised = [d.detection_id for o in first + second for d in o.detections]
    cleared = [w for o in first + second for w in o.withdrawn]
    assert len(raised) == 1 and cleared == raised
    assert [s.reason for s in second[2].skipped] == [
        "no rule for this metric",
        "not newer than the last reading",
    ]
    third = await run([(60, 7)])
    assert len(third[0].detections) == 1 and third[0].detections[0].detection_id != raised[0]

    engine = db.create_engine(url)
    try:
        (alarm,) = await rows(engine, IotAlarmRow)
        assert alarm.raised and alarm.last_value == 60  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_telemetry_from_an_unknown_device_or_the_future_changes_nothing(
    reference: Reference, uow: UowFactory, db_engine: AsyncEngine
) -> None:
    with pytest.raises(InvalidReportError, match="device"):
        await record_telemetry(reading(80, 0, "ghost"), uow(), reference.policy, reference.iot)
    future = RecordTelemetry("gas-hb-0001", "2999-01-01T00:00:00Z", {"gas_ppm": 80}, SHA)
    with pytest.raises(InvalidReportError, match="future"):
        await record_telemetry(future, uow(), reference.policy, reference.iot)
    assert await rows(db_engine, IotAlarmRow) == []
    assert await rows(db_engine, DetectionRow) == []
