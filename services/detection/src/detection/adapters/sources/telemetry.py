"""IoT telemetry (MQTT `iot/<device>/telemetry` or `POST /ingest/iot`) → a command.

Payload: `{"ts": <ISO 8601 with offset | epoch milliseconds>, "readings":
{"<metric>": <number>, ...}}`; over HTTP the body also names `device_id`.
Other fields (sequence numbers, firmware) are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt, StrictStr

from detection.adapters.sources.common import Lenient, epoch_ms_time, validate
from detection.domain.commands import RecordTelemetry
from detection.domain.iot import DEVICE_ID_PATTERN, reading_values


class TelemetryBody(Lenient):
    ts: StrictStr | StrictInt
    readings: dict[str, Any]


class HttpTelemetryBody(TelemetryBody):
    device_id: StrictStr = Field(pattern=DEVICE_ID_PATTERN)


def parse(device_id: str, data: Any, raw_payload_sha256: str) -> RecordTelemetry:
    """A device's message (the device named by the MQTT topic)."""
    body = validate(TelemetryBody, data)
    return _command(device_id, body, raw_payload_sha256)


def parse_http(data: Any, raw_payload_sha256: str) -> RecordTelemetry:
    body = validate(HttpTelemetryBody, data)
    return _command(body.device_id, body, raw_payload_sha256)


def _command(device_id: str, body: TelemetryBody, raw_payload_sha256: str) -> RecordTelemetry:
    observed_at = body.ts if isinstance(body.ts, str) else epoch_ms_time(body.ts, "ts")
    return RecordTelemetry(
        device_id=device_id,
        observed_at=observed_at,
        readings=reading_values(body.readings),
        raw_payload_sha256=raw_payload_sha256,
    )
