"""CloudEvents 1.0 in NATS binary mode: attributes as `ce-*` headers, the
protobuf message as the body, plus `Nats-Msg-Id` and W3C trace headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import Message

from svckit.clock import new_id, utcnow
from svckit.errors import PermanentError
from svckit.messaging import codec

CONTENT_TYPE = "application/protobuf"
REQUIRED = ("ce-id", "ce-type", "ce-source", "ce-specversion")


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    subject: str  # the NATS subject
    case_id: str
    time: datetime
    body: bytes
    trace_headers: Mapping[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = {
            "ce-specversion": "1.0",
            "ce-id": self.id,
            "ce-type": self.type,
            "ce-source": self.source,
            "ce-time": self.time.isoformat().replace("+00:00", "Z"),
            "ce-datacontenttype": CONTENT_TYPE,
            "Nats-Msg-Id": self.id,
        }
        if self.case_id:
            headers["ce-subject"] = self.case_id
        headers.update(self.trace_headers)
        return headers


def wrap(
    message: Message,
    *,
    service: str,
    subject: str,
    case_id: str = "",
    trace_headers: Mapping[str, str] | None = None,
) -> Envelope:
    return Envelope(
        id=new_id(),
        type=codec.type_name(message),
        source=f"/cityops/{service}",
        subject=subject,
        case_id=case_id,
        time=utcnow(),
        body=message.SerializeToString(),
        trace_headers=dict(trace_headers or {}),
    )


@dataclass(frozen=True)
class IncomingEvent:
    """A received event, decoded: what handlers see."""

    id: str
    type: str
    source: str
    subject: str
    case_id: str
    time: datetime
    message: Message
    headers: Mapping[str, str]

    @property
    def traceparent(self) -> str:
        return self.headers.get("traceparent", "")


def unwrap(subject: str, headers: Mapping[str, str] | None, body: bytes) -> IncomingEvent:
    """Check the envelope and decode the body; anything missing is permanent."""
    headers = dict(headers or {})
    missing = [h for h in REQUIRED if not headers.get(h)]
    if missing:
        raise PermanentError(f"missing CloudEvents headers: {', '.join(missing)}")
    try:
        when = datetime.fromisoformat(headers.get("ce-time", "").replace("Z", "+00:00"))
    except ValueError as exc:
        raise PermanentError(f"bad ce-time {headers.get('ce-time')!r}") from exc
    if when.tzinfo is None:
        # RFC 3339 requires an offset; a naive time would reach aware-UTC columns.
        raise PermanentError(f"ce-time without a UTC offset {headers.get('ce-time')!r}")
    return IncomingEvent(
        id=headers["ce-id"],
        type=headers["ce-type"],
        source=headers["ce-source"],
        subject=subject,
        case_id=headers.get("ce-subject", ""),
        time=when,
        message=codec.decode(headers["ce-type"], body),
        headers=headers,
    )
