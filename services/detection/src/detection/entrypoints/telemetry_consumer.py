"""MQTT telemetry from JetStream: devices publish to nats-server's MQTT listener
on `iot/<device>/telemetry` (NATS subject `iot.<device>.telemetry`); the stream
`IOT_TELEMETRY` keeps every reading and the durable consumer `detection-iot`
resumes where it stopped, so no reading is lost while detection is down.

Device messages carry no CloudEvents envelope, so svckit's PullWorker (which
unwraps one) does not fit; this loop is the same discipline without it:
commit, then ack; a payload no retry can fix is dead-lettered and terminated;
anything else is redelivered with growing delay. Replays are harmless: a
reading no newer than the last applied one is skipped (see service_layer.telemetry).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from detection.adapters.sources import telemetry
from detection.adapters.sources.common import MalformedPayloadError, loads_json
from detection.domain.iot import IotConfig
from detection.domain.rules import IngestPolicy
from detection.service_layer.telemetry import record_telemetry
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import utcnow
from svckit.errors import InvalidArgumentError
from svckit.logging import get_logger
from svckit.messaging import jetstream
from svckit.messaging.subjects import StreamSpec
from svckit.tables import DeadLetter

log = get_logger(__name__)
tracer = trace.get_tracer("detection.telemetry")

STREAM = StreamSpec(name="IOT_TELEMETRY", subjects=("iot.>",), max_age_days=7.0)
DURABLE = "detection-iot"
FILTER = "iot.*.telemetry"


class TelemetryConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        uow: Callable[[], DetectionUnitOfWork],
        policy: IngestPolicy,
        config: IotConfig,
        *,
        batch: int = 64,
        max_attempts: int = 10,
    ) -> None:
        self._js = js
        self._uow = uow
        self._policy = policy
        self._config = config
        self._batch = batch
        self._max_attempts = max_attempts
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.handled = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        await jetstream.ensure_stream(self._js, STREAM)
        sub = await jetstream.ensure_pull_consumer(self._js, STREAM.name, DURABLE, [FILTER])
        self._task = asyncio.create_task(self._run(sub), name=DURABLE)

    async def stop(self) -> None:
        """Stop fetching; the message in hand is finished first."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=10)

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(self._batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:  # connection loss: the client reconnects
                if self._stopping.is_set():
                    return
                log.warning("telemetry fetch failed", error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    await self.handle(msg)
                except Exception as exc:  # e.g. the store is down: keep consuming
                    log.error("telemetry message not handled", error=repr(exc))
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1.0)

    async def handle(self, msg: Msg) -> None:
        """One device message: applied and acked, dead-lettered, or redelivered later."""
        device_id = msg.subject.split(".")[1] if msg.subject.count(".") == 2 else ""
        with tracer.start_as_current_span(
            f"{msg.subject} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": DURABLE,
                "cityops.device_id": device_id,
            },
        ):
            try:
                command = telemetry.parse(device_id, loads_json(msg.data), _sha256(msg.data))
                await record_telemetry(command, self._uow(), self._policy, self._config)
            except (MalformedPayloadError, InvalidArgumentError) as exc:
                await self._dead_letter(msg, str(exc))
                return
            except Exception as exc:
                await self._retry(msg, exc)
                return
        with contextlib.suppress(Exception):  # unacked: redelivered, then skipped as stale
            await msg.ack_sync()
        self.handled += 1

    async def _retry(self, msg: Msg, exc: Exception) -> None:
        deliveries = _deliveries(msg)
        if deliveries >= self._max_attempts:
            await self._dead_letter(msg, f"gave up after {deliveries} deliveries: {exc!r}")
            return
        delay = min(0.2 * 2 ** (deliveries - 1), 30.0)
        log.warning("telemetry failed; redelivering", error=repr(exc), delay=delay)
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        # The reason may echo a device's text; keep it storable (no lone surrogates).
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        async with self._uow() as uow:
            uow.session.add(
                DeadLetter(
                    consumer=DURABLE,
                    stream=STREAM.name,
                    subject=msg.subject,
                    message_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                    stream_sequence=_sequence(msg),
                    deliveries=_deliveries(msg),
                    headers=json.dumps(msg.headers or {}),
                    body=msg.data,
                    reason=reason[:2000],
                    failed_at=utcnow(),
                )
            )
            await uow.commit()
        self.dead_lettered += 1
        log.error("telemetry dead-lettered", subject=msg.subject, reason=reason[:200])
        await msg.term()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


def _sequence(msg: Msg) -> int:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:
        return 0
