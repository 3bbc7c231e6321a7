"""svckit.testing.streams against a real nats-server: what the services'
component tests publish and read back."""

from __future__ import annotations

from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from svckit.messaging import jetstream
from svckit.messaging.subjects import CASE_FILED, stream_for
from svckit.testing.streams import (
    publish_envelope,
    publish_event,
    stream_events,
    stream_messages,
)


def filed(case_id: str) -> intake_events.CaseFiled:
    return intake_events.CaseFiled(case=case_pb2.Case(case_id=case_id))


async def test_published_events_read_back_in_order_as_consumers_see_them(
    nats_client: Client, spans: InMemorySpanExporter
) -> None:
    js = nats_client.jetstream()
    assert await stream_messages(js, "INTAKE") == []  # no stream yet
    await jetstream.ensure_stream(js, stream_for("intake"))
    assert await stream_events(js, "INTAKE") == []

    with trace.get_tracer("test").start_as_current_span("file") as span:
        first = await publish_event(js, filed("C-1"), CASE_FILED, case_id="C-1")
        trace_id = format(span.get_span_context().trace_id, "032x")
    # The same envelope again: de-duplicated, unless under a new Nats-Msg-Id.
    await publish_envelope(js, first)
    sent = await publish_envelope(js, first, {"Nats-Msg-Id": "again"})
    assert (sent["Nats-Msg-Id"], sent["ce-id"]) == ("again", first.id)
    await publish_event(js, filed("C-2"), CASE_FILED, trace_headers={})

    raw = await stream_messages(js, "INTAKE")
    assert [m.seq for m in raw] == [1, 2, 3]
    events = await stream_events(js, "INTAKE")
    assert [(e.id == first.id, e.case_id) for e in events] == [
        (True, "C-1"),
        (True, "C-1"),
        (False, ""),
    ]
    assert events[0].source == "/cityops/intake"  # the subject's producer
    assert events[0].traceparent.split("-")[1] == trace_id
    assert events[2].traceparent == ""
    assert events[2].message == filed("C-2")
