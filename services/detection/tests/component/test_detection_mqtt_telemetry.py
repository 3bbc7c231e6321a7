"""A real MQTT client (paho-mqtt) publishing to nats-server's own MQTT listener:
readings become detections through JetStream, none is lost while detection is
down, and a payload no retry can fix is dead-lettered without blocking the rest."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from nats.aio.client import Client
from sqlmodel import select

from cityops.detection.v1 import events_pb2
from detection.config import DetectionSettings
from svckit import db
from svckit.clock import utcnow
from svckit.messaging import jetstream
from svckit.natsserver import NatsServer, free_port
from svckit.tables import DeadLetter
from svckit.testing.polling import eventually
from svckit.testing.streams import stream_events


@pytest.fixture
def mqtt_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server with its MQTT listener on, as `make run` starts it."""
    server = NatsServer(
        tmp_path / "jetstream", mqtt_port=free_port(), log_file=tmp_path / "nats-server.log"
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Connect (the MQTT listener may still be starting), publish at QoS 1, wait for PUBACKs."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensor-gateway-1")
    for attempt in range(100):
        try:
            client.connect("127.0.0.1", port, keepalive=30)
            break
        except OSError:
            if attempt == 99:
                raise
            time.sleep(0.1)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def reading(value: float, seconds_ago: float) -> bytes:
    ts = utcnow().timestamp() - seconds_ago
    return json.dumps({"ts": int(ts * 1000), "readings": {"gas_ppm": value}, "seq": 1}).encode()


async def reported(nc: Client) -> list[Any]:
    events = await stream_events(nc.jetstream(), "DETECTION")
    return [e.message for e in events]


async def dead_letters(runtime: Any) -> list[DeadLetter]:
    async with db.session_factory(runtime.engine)() as session:
        return list((await session.exec(select(DeadLetter))).all())


async def test_mqtt_readings_become_detections_even_when_sent_while_detection_is_down(
    tmp_path: Path, mqtt_nats: NatsServer, run_detection: Any
) -> None:
    assert mqtt_nats.mqtt_port is not None
    settings = DetectionSettings(
        nats_url=mqtt_nats.url, data_dir=tmp_path / "data", grpc_port=0, http_port=0
    )
    nc = await jetstream.connect(mqtt_nats.url, name="test")
    try:
        async with run_detection(settings) as runtime:
            await asyncio.to_thread(
                publish,
                mqtt_nats.mqtt_port,
                [
                    ("iot/gas-hb-0001/telemetry", reading(12, 30)),
                    ("iot/gas-hb-0001/telemetry", reading(88, 20)),
                    ("iot/gas-hb-0001/telemetry", reading(47, 10)),  # flapping: holds
                    ("iot/gas-hb-0001/telemetry", b"{not json"),  # dead-lettered
                ],
            )
            # The poison message is the last one: once it is dead-lettered, all were handled.
            letters = await eventually(lambda: dead_letters(runtime), timeout=15)
            events = await eventually(lambda: reported(nc), timeout=15)
        assert len(events) == 1
        raised = events[0]
        assert isinstance(raised, events_pb2.DetectionReported)
        assert raised.detection.device_id == "gas-hb-0001"
        assert raised.detection.category_code == "E0403"
        assert raised.detection.reading.value == 88 and raised.detection.reading.unit == "ppm"

        # Detection is down: the device keeps publishing; JetStream keeps the readings.
        await asyncio.to_thread(
            publish, mqtt_nats.mqtt_port, [("iot/gas-hb-0001/telemetry", reading(5, 5))]
        )
        async with run_detection(settings) as runtime:

            async def two() -> list[Any] | None:
                found = await reported(nc)
                return found if len(found) == 2 else None

            events = await eventually(two, timeout=15)
    finally:
        await nc.close()
    cleared = events[1]
    assert isinstance(cleared, events_pb2.DetectionWithdrawn)
    assert cleared.detection_id == raised.detection.detection_id
    assert cleared.kind == events_pb2.WITHDRAWAL_KIND_CLEARED
    assert [(d.consumer, "malformed JSON" in d.reason) for d in letters] == [
        ("detection-iot", True)
    ]
