"""JetStream as a component test sees it: publish an event the way a
producer's outbox relay does, and read back everything a stream holds."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.message import Message
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from svckit.messaging import envelope
from svckit.messaging.envelope import Envelope, IncomingEvent
from svckit.messaging.subjects import producer_of
from svckit.telemetry import inject_context


async def publish_envelope(
    js: JetStreamContext, env: Envelope, headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Publish `env` on its subject with its headers, `headers` overriding some
    (a new `Nats-Msg-Id` to get past JetStream's de-duplication, say);
    returns the headers sent."""
    sent = env.headers() | dict(headers or {})
    await js.publish(env.subject, env.body, headers=sent)
    return sent


async def publish_event(
    js: JetStreamContext,
    message: Message,
    subject: str,
    *,
    case_id: str = "",
    service: str | None = None,
    trace_headers: Mapping[str, str] | None = None,
) -> Envelope:
    """Publish `message` in the svckit envelope, as `service` (by default the
    subject's producer) would, carrying `trace_headers` (by default the
    current trace context); returns the envelope."""
    env = envelope.wrap(
        message,
        service=service or producer_of(subject),
        subject=subject,
        case_id=case_id,
        trace_headers=inject_context() if trace_headers is None else trace_headers,
    )
    await publish_envelope(js, env)
    return env


async def stream_messages(js: JetStreamContext, stream: str) -> list[RawStreamMsg]:
    """Every message the stream holds, oldest first; [] while it does not exist."""
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        return []
    if not state.messages:
        return []
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


async def stream_events(js: JetStreamContext, stream: str) -> list[IncomingEvent]:
    """Every message the stream holds, unwrapped and decoded as a consumer sees it."""
    return [
        envelope.unwrap(msg.subject or "", msg.headers, msg.data or b"")
        for msg in await stream_messages(js, stream)
    ]
