"""NATS accounts and permissions (cityops_tools.natsauth) enforced by a real
nats-server: each service is its own NKey user that may publish only its own
subjects and read only what it consumes; devices live in another account that
may publish ingest subjects and nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import paho.mqtt.client as mqtt
import pytest
from nats.aio.client import Client

from cityops_tools import natsauth
from svckit.messaging import jetstream
from svckit.messaging.auth import NatsAuth
from svckit.messaging.subjects import (
    CASE_CLOSED,
    CASE_FILED,
    StreamSpec,
    durable_name,
    stream_for,
)
from svckit.natsserver import NatsServer, free_port
from svckit.testing.polling import eventually

IOT = "IOT_TELEMETRY"


@dataclass
class Secured:
    server: NatsServer
    auth_dir: Path
    errors: list[str] = field(default_factory=list)

    def auth(self, user: str) -> NatsAuth:
        return NatsAuth(nkey_seed_file=natsauth.seed_file(self.auth_dir, user))

    async def connect(self, user: str) -> Client:
        """A raw client as `user`, collecting the server's asynchronous errors."""

        async def collect(exc: Exception) -> None:
            self.errors.append(str(exc))

        return await nats.connect(
            self.server.url, error_cb=collect, **self.auth(user).connect_options(user)
        )

    async def violation(self, text: str) -> bool:
        """The server reported `text` (nats-py lower-cases the protocol error)."""
        await eventually(lambda: any(text.lower() in e.lower() for e in self.errors), timeout=10)
        return True


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    auth_dir = tmp_path / "auth"
    conf = natsauth.generate(auth_dir)
    server = NatsServer(
        tmp_path / "jetstream",
        mqtt_port=free_port(),
        log_file=tmp_path / "nats-server.log",
        extra_config=conf.read_text(),
    )
    server.start()
    try:
        yield Secured(server, auth_dir)
    finally:
        server.kill()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for nc in opened:
        await nc.close()


async def test_a_service_may_not_publish_another_services_subjects(
    secured: Secured, clients: list[Client]
) -> None:
    intake = await secured.connect("intake")
    clients.append(intake)
    await intake.publish(CASE_CLOSED, b"forged closure")
    await intake.flush()
    assert await secured.violation(f'permissions violation for publish to "{CASE_CLOSED}"')


async def test_a_service_may_not_subscribe_beyond_what_it_consumes(
    secured: Secured, clients: list[Client]
) -> None:
    intake = await secured.connect("intake")
    clients.append(intake)
    await intake.subscribe("cityops.audit.>")
    await intake.subscribe("_INBOX.audit.>")  # nor read another service's replies
    await intake.flush()
    assert await secured.violation('permissions violation for subscription to "cityops.audit.>"')
    assert await secured.violation('permissions violation for subscription to "_INBOX.audit.>"')


async def test_a_forbidden_jetstream_call_gets_no_answer(
    secured: Secured, clients: list[Client]
) -> None:
    """Another service's durable consumer: the API request never reaches JetStream."""
    intake = await secured.connect("intake")
    clients.append(intake)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await intake.jetstream(timeout=1).consumer_info("AUDIT", durable_name("audit", "audit"))
    assert await secured.violation("$JS.API.CONSUMER.INFO.AUDIT.audit-audit")


async def test_a_service_publishes_its_own_events_and_consumes_its_streams(
    secured: Secured,
) -> None:
    """svckit's own calls under the generated users: declare, publish, consume, ack."""
    intake = await jetstream.connect(secured.server.url, "intake", auth=secured.auth("intake"))
    dispatch = await jetstream.connect(
        secured.server.url, "dispatch", auth=secured.auth("dispatch")
    )
    try:
        await jetstream.ensure_stream(intake.jetstream(), stream_for("intake"))
        ack = await intake.jetstream().publish(CASE_FILED, b"case", headers={"Nats-Msg-Id": "c1"})
        assert ack.stream == "INTAKE"
        js = dispatch.jetstream()
        await jetstream.ensure_stream(js, stream_for("intake"))
        sub = await jetstream.ensure_pull_consumer(
            js, "INTAKE", durable_name("dispatch", "intake"), [CASE_FILED]
        )
        [msg] = await sub.fetch(1, timeout=5)
        assert msg.data == b"case"
        await msg.ack_sync()
        assert (await sub.consumer_info()).num_ack_pending == 0
    finally:
        await intake.close()
        await dispatch.close()


async def test_credentials_come_from_the_environment_when_not_given(
    secured: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a deployed process does: CITYOPS_NATS_NKEY_SEED_FILE set, nothing passed."""
    with pytest.raises(nats.errors.Error):  # anonymous connections are refused
        await nats.connect(secured.server.url, allow_reconnect=False, connect_timeout=2)
    monkeypatch.setenv(
        "CITYOPS_NATS_NKEY_SEED_FILE", str(natsauth.seed_file(secured.auth_dir, "audit"))
    )
    nc = await jetstream.connect(secured.server.url, "audit")
    try:
        await jetstream.ensure_stream(nc.jetstream(), stream_for("audit"))
        assert (await nc.jetstream().publish(CASE_CLOSED, b"closed")).stream == "AUDIT"
    finally:
        await nc.close()


async def iot_messages(detection: Client) -> list[bytes]:
    """What detection's durable telemetry consumer sees (service account)."""
    js = detection.jetstream()
    sub = await jetstream.ensure_pull_consumer(js, IOT, "detection-iot", ["iot.*.telemetry"])
    try:
        msgs = await sub.fetch(10, timeout=1)
    except nats.errors.TimeoutError:
        return []
    for msg in msgs:
        await msg.ack_sync()
    return [m.data for m in msgs]


@pytest.fixture
async def detection(secured: Secured) -> AsyncIterator[Client]:
    nc = await jetstream.connect(secured.server.url, "detection", auth=secured.auth("detection"))
    spec = StreamSpec(name=IOT, subjects=("iot.>",), max_age_days=7.0)
    await jetstream.ensure_stream(nc.jetstream(), spec)
    try:
        yield nc
    finally:
        await nc.close()


async def test_devices_publish_ingest_subjects_into_the_services_account(
    secured: Secured, clients: list[Client], detection: Client
) -> None:
    gateway = await secured.connect("gateway")
    clients.append(gateway)
    await gateway.publish("iot.x.telemetry", b'{"gas_ppm": 3}')
    await gateway.flush()
    assert await eventually(lambda: iot_messages(detection), timeout=10) == [b'{"gas_ppm": 3}']


async def test_devices_may_not_publish_service_subjects(
    secured: Secured, clients: list[Client]
) -> None:
    gateway = await secured.connect("gateway")
    clients.append(gateway)
    await gateway.publish(CASE_FILED, b"forged case")
    await gateway.flush()
    assert await secured.violation(f'permissions violation for publish to "{CASE_FILED}"')


def mqtt_publish(port: int, password: str, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensor-7")
    client.username_pw_set(natsauth.DEVICE_USER, password)
    for attempt in range(100):  # the MQTT listener may still be starting
        try:
            client.connect("127.0.0.1", port, keepalive=30)
            break
        except OSError:
            if attempt == 99:
                raise
            time.sleep(0.1)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_mqtt_devices_log_in_and_their_telemetry_reaches_detection(
    secured: Secured, detection: Client
) -> None:
    password = (secured.auth_dir / "devices.password").read_text().strip()
    assert secured.server.mqtt_port
    await asyncio.to_thread(
        mqtt_publish, secured.server.mqtt_port, password, "iot/sensor-7/telemetry", b"{}"
    )
    assert await eventually(lambda: iot_messages(detection), timeout=10) == [b"{}"]
    # The device password is for MQTT only: no NATS-protocol login with it.
    with pytest.raises(nats.errors.Error):
        await nats.connect(
            secured.server.url,
            user=natsauth.DEVICE_USER,
            password=password,
            allow_reconnect=False,
            connect_timeout=2,
        )
