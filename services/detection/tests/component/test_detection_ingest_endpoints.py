"""Every source format through the running service against a real nats-server:
fixtures in, normalised events out on the DETECTION stream; duplicates (also
after a restart) are one detection; a CAP Cancel withdraws what it references;
bad input of every kind is refused with its reason and publishes nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from sqlmodel import select

from cityops.detection.v1 import events_pb2
from detection.adapters.tables import DetectionRow
from detection.bootstrap import DetectionRuntime
from detection.config import DetectionSettings
from svckit import db
from svckit.clock import utcnow
from svckit.natsserver import NatsServer
from svckit.tables import OutboxMessage
from svckit.testing.polling import eventually
from svckit.testing.streams import stream_events

STREAM = "DETECTION"
CAP = {"content-type": "application/cap+xml"}
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}

Bytes = Callable[[str], bytes]
Json = Callable[[str], Any]


@pytest.fixture
def settings(tmp_path: Path, nats_server: NatsServer) -> DetectionSettings:
    return DetectionSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path / "data",
        grpc_port=0,
        http_port=0,
        max_body_bytes=16_384,
    )


@asynccontextmanager
async def http(runtime: DetectionRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=runtime.http.url, trust_env=False) as client:
        yield client


async def published(nc: Client) -> list[Any]:
    return [e.message for e in await stream_events(nc.jetstream(), STREAM)]


async def settled(runtime: DetectionRuntime, nc: Client, count: int) -> list[Any]:
    """The stream's events once the outbox is empty and `count` events are there."""

    async def check() -> list[Any] | None:
        if await runtime.relay.pending_count():
            return None
        events = await published(nc)
        return events if len(events) >= count else None

    events = await eventually(check, timeout=15, every=0.05)
    assert len(events) == count, events
    return events


async def test_each_format_publishes_normalised_detections_once(
    settings: DetectionSettings,
    nats_client: Client,
    run_detection: Any,
    fixture_bytes: Bytes,
    fixture_json: Json,
) -> None:
    cap_alert = fixture_bytes("cap_gas_leak_alert.xml")
    async with run_detection(settings) as runtime, http(runtime) as client:
        first = await client.post("/ingest/cap", content=cap_alert, headers=CAP)
        assert first.status_code == 202, first.text
        alert_id = first.json()["detections"][0]["detection_id"]
        repeat = await client.post("/ingest/cap", content=cap_alert, headers=CAP)
        assert repeat.status_code == 200 and repeat.json()["detections"][0]["duplicate"]
        hik = fixture_json("hikvision_road_damage_active.json")
        assert (await client.post("/ingest/video-ai/hikvision", json=hik)).status_code == 202
        await settled(runtime, nats_client, 2)

    # Restarted: the same alarms are still known, and nothing new is published.
    async with run_detection(settings) as runtime, http(runtime) as client:
        again = await client.post("/ingest/cap", content=cap_alert, headers=CAP)
        assert again.status_code == 200
        assert again.json()["detections"][0] == {
            "detection_id": alert_id,
            "duplicate": True,
            "published": True,
            "supersedes_detection_id": "",
        }
        hik_again = await client.post("/ingest/video-ai/hikvision", json=hik)
        assert hik_again.status_code == 200

        update = await client.post(
            "/ingest/cap", content=fixture_bytes("cap_gas_leak_update.xml"), headers=CAP
        )
        assert update.json()["detections"][0]["supersedes_detection_id"] == alert_id
        cancel = await client.post(
            "/ingest/cap", content=fixture_bytes("cap_gas_leak_cancel.xml"), headers=CAP
        )
        assert cancel.status_code == 202
        update_id = update.json()["detections"][0]["detection_id"]
        assert cancel.json()["withdrawn"] == [update_id]
        drill = await client.post(
            "/ingest/cap", content=fixture_bytes("cap_flooding_exercise.xml"), headers=CAP
        )
        assert drill.status_code == 202 and drill.json()["published"] is False

        inactive = fixture_json("hikvision_road_damage_inactive.json")
        cleared = await client.post("/ingest/video-ai/hikvision", json=inactive)
        assert len(cleared.json()["withdrawn"]) == 1
        generic = await client.post(
            "/ingest/video-ai/generic", json=fixture_json("generic_pothole_active.json")
        )
        assert generic.status_code == 202
        drone = await client.post("/ingest/drone", json=fixture_json("dji_inspection_result.json"))
        assert len(drone.json()["detections"]) == 2 and len(drone.json()["skipped"]) == 1

        structured = fixture_bytes("ce_structured.json")
        assert (
            await client.post("/ingest/cloudevents", content=structured, headers=STRUCTURED)
        ).status_code == 202
        assert (
            await client.post("/ingest/cloudevents", content=structured, headers=STRUCTURED)
        ).status_code == 200
        batch = await client.post(
            "/ingest/cloudevents", content=fixture_bytes("ce_batch.json"), headers=BATCH
        )
        assert batch.status_code == 200
        assert [r["status"] for r in batch.json()["results"]] == [202, 422, 422]
        binary = await client.post(
            "/ingest/cloudevents",
            json=fixture_json("ce_structured.json")["data"],
            headers={
                "ce-specversion": "1.0",
                "ce-id": "binary-1",
                "ce-source": "/pda/117",
                "ce-type": "org.cityops.detection.v1",
                "ce-time": utcnow().isoformat(),
            },
        )
        assert binary.status_code == 202, binary.text

        now = utcnow()
        raised = await client.post(
            "/ingest/iot",
            json={"device_id": "gas-hb-0001", "ts": now.isoformat(), "readings": {"gas_ppm": 90}},
        )
        assert raised.status_code == 202 and len(raised.json()["detections"]) == 1

        events = await settled(runtime, nats_client, 12)
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds == {"DetectionReported": 10, "DetectionWithdrawn": 2}
    reported = [e.detection for e in events if isinstance(e, events_pb2.DetectionReported)]
    assert len({d.detection_id for d in reported}) == 10
    assert {d.source_kind for d in reported} == {1, 2, 3, 4, 5}  # every kind of source
    withdrawn = [e for e in events if isinstance(e, events_pb2.DetectionWithdrawn)]
    assert [w.kind for w in withdrawn] == [
        events_pb2.WITHDRAWAL_KIND_CANCELLED,
        events_pb2.WITHDRAWAL_KIND_CLEARED,
    ]
    assert withdrawn[0].detection_id == update_id
    cap_update = next(d for d in reported if d.detection_id == update_id)
    assert cap_update.supersedes_detection_id == alert_id
    assert cap_update.area.circles[0].radius_m == pytest.approx(150)
    # The exercise is on file but on no stream.
    assert all(d.source_code != "Road Flooding" for d in reported)


async def test_withdrawals_travel_on_their_own_subject(
    settings: DetectionSettings, nats_client: Client, run_detection: Any, fixture_bytes: Bytes
) -> None:
    async with run_detection(settings) as runtime, http(runtime) as client:
        for name in ("cap_gas_leak_alert.xml", "cap_gas_leak_cancel.xml"):
            assert (
                await client.post("/ingest/cap", content=fixture_bytes(name), headers=CAP)
            ).status_code == 202
        await settled(runtime, nats_client, 2)
        raw = await nats_client.jetstream().get_msg(STREAM, 2)
    headers = raw.headers or {}
    assert raw.subject == "cityops.detection.detection.withdrawn"
    assert headers["ce-type"] == "cityops.detection.v1.DetectionWithdrawn"
    event = events_pb2.DetectionWithdrawn.FromString(raw.data or b"")
    assert event.idempotency_key == "cap/scada@gas.sample-city.gov.cn:GASNET-2025-000417"
    assert "sensor fault" in event.reason


async def test_a_batch_answers_each_event_as_if_alone_and_publishes_only_the_accepted(
    settings: DetectionSettings, nats_client: Client, run_detection: Any, fixture_json: Json
) -> None:
    earlier = fixture_json("ce_structured.json")
    new, wrong_type, outside = fixture_json("ce_batch.json")
    later = new | {"id": "12345-20250601-7734"}
    batch = [new, earlier, new | {"data": new["data"] | {"confidence": 0.1}}]
    batch += [wrong_type, outside, later, 42]
    async with run_detection(settings) as runtime, http(runtime) as client:
        first = await client.post("/ingest/cloudevents", json=earlier, headers=STRUCTURED)
        assert first.status_code == 202, first.text
        answer = await client.post("/ingest/cloudevents", json=batch, headers=BATCH)
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [(r["index"], r["id"], r["status"]) for r in results] == [
            (0, new["id"], 202),
            (1, earlier["id"], 200),
            (2, new["id"], 200),  # a repeat within the batch is a duplicate
            (3, wrong_type["id"], 422),
            (4, outside["id"], 422),
            (5, later["id"], 202),
            (6, "", 422),
        ]
        ids = [(r["outcome"] or {}).get("detections", [{}])[0].get("detection_id") for r in results]
        assert ids[1] == first.json()["detections"][0]["detection_id"]
        assert ids[2] == ids[0] and results[2]["outcome"]["detections"][0]["duplicate"]
        refused = [r["detail"] is not None for r in results]
        assert refused == [False, False, False, True, True, False, True]
        assert "type" in json.dumps(results[3]["detail"])

        events = await settled(runtime, nats_client, 3)
        async with db.session_factory(runtime.engine)() as session:
            stored = (await session.exec(select(DetectionRow))).all()
            outbox = (await session.exec(select(OutboxMessage))).all()
    keys = [e.detection.idempotency_key for e in events]
    assert keys == [
        "ce/urn%3Asample-city%3Ainspection-app:insp-20250601-0042",
        "ce//hotline/12345:12345-20250601-7731",
        "ce//hotline/12345:12345-20250601-7734",
    ]
    assert sorted(r.idempotency_key for r in stored) == sorted(keys)
    assert len(outbox) == 3


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


def bad_requests(
    fixture_bytes: Bytes, fixture_json: Json
) -> list[tuple[str, str, dict[str, str], bytes, int]]:
    """(label, path, headers, body, expected status) for every kind of bad input."""
    alert = fixture_bytes("cap_gas_leak_alert.xml")
    hik = fixture_json("hikvision_road_damage_active.json")
    drone = fixture_json("dji_inspection_result.json")
    ce = fixture_json("ce_structured.json")
    as_json = {"content-type": "application/json"}

    def dump(value: Any) -> bytes:
        return json.dumps(value).encode()

    return [
        ("malformed XML", "/ingest/cap", CAP, b"<alert><oops>", 400),
        ("entity bomb", "/ingest/cap", CAP, fixture_bytes("cap_billion_laughs.xml"), 400),
        ("not CAP 1.2", "/ingest/cap", CAP, fixture_bytes("cap_v11_alert.xml"), 422),
        ("CAP as JSON", "/ingest/cap", as_json, alert, 415),
        (
            "CAP far future",
            "/ingest/cap",
            CAP,
            alert.replace(b"2025-06-01T09:15:00+08:00</sent>", b"2999-06-01T09:15:00+08:00</sent>"),
            422,
        ),
        (
            "CAP outside the city",
            "/ingest/cap",
            CAP,
            alert.replace(b"31.2385,121.49", b"39.9000,116.40").replace(
                b"31.2395,121.49", b"39.9010,116.40"
            ),
            422,
        ),
        ("malformed JSON", "/ingest/video-ai/hikvision", as_json, b'{"eventType": ', 400),
        ("unknown vendor", "/ingest/video-ai/axis", as_json, dump(hik), 404),
        (
            "unknown code",
            "/ingest/video-ai/hikvision",
            as_json,
            dump(hik | {"eventType": "ufo", "targets": []}),
            422,
        ),
        (
            "missing field",
            "/ingest/video-ai/hikvision",
            as_json,
            dump({k: v for k, v in hik.items() if k != "dateTime"}),
            422,
        ),
        (
            "unregistered camera",
            "/ingest/video-ai/hikvision",
            as_json,
            dump(hik | {"macAddress": "", "ipAddress": "1.2.3.4"}),
            422,
        ),
        ("drone outside the city", "/ingest/drone", as_json, dump(_moved(drone, 39.9, 116.4)), 422),
        ("drone NaN", "/ingest/drone", as_json, dump(drone).replace(b"0.92", b"NaN"), 400),
        ("CE wrong type", "/ingest/cloudevents", STRUCTURED, dump(ce | {"type": "x.y"}), 422),
        ("CE no mode", "/ingest/cloudevents", {"content-type": "text/plain"}, dump(ce), 415),
        ("CE batch not an array", "/ingest/cloudevents", BATCH, dump(ce), 422),
        (
            "IoT unknown device",
            "/ingest/iot",
            as_json,
            dump({"device_id": "ghost", "ts": 0, "readings": {"gas_ppm": 99}}),
            422,
        ),
        (
            "IoT far future",
            "/ingest/iot",
            as_json,
            dump(
                {
                    "device_id": "gas-hb-0001",
                    "ts": "2999-01-01T00:00:00Z",
                    "readings": {"gas_ppm": 99},
                }
            ),
            422,
        ),
        ("IoT array", "/ingest/iot", as_json, b"[]", 422),
    ]


def _moved(event: dict[str, Any], lat: float, lng: float) -> dict[str, Any]:
    event["data"]["file"]["metadata"]["shoot_position"] = {"lat": lat, "lng": lng}
    return event


async def test_bad_input_everywhere_is_refused_with_a_reason_and_publishes_nothing(
    settings: DetectionSettings,
    nats_client: Client,
    run_detection: Any,
    fixture_bytes: Bytes,
    fixture_json: Json,
) -> None:
    oversized = fixture_bytes("cap_gas_leak_alert.xml") * 8
    assert len(oversized) > settings.max_body_bytes
    async with run_detection(settings) as runtime, http(runtime) as client:
        for label, path, headers, body, status in bad_requests(fixture_bytes, fixture_json):
            response = await client.post(path, content=body, headers=headers)
            assert response.status_code == status, (label, response.text)
            assert response.json()["detail"], label
        for path in ("/ingest/cap", "/ingest/drone", "/ingest/cloudevents", "/ingest/iot"):
            declared = await client.post(path, content=oversized, headers=CAP)
            streamed = await client.post(path, content=chunked(oversized), headers=CAP)
            assert (declared.status_code, streamed.status_code) == (413, 413), path

        async with db.session_factory(runtime.engine)() as session:
            assert (await session.exec(select(DetectionRow))).all() == []
            assert (await session.exec(select(OutboxMessage))).all() == []
    assert await published(nats_client) == []
