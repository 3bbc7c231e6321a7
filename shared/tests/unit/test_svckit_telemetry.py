"""svckit.telemetry: spans as JSON lines, W3C context in headers, links to a
case's discovery trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from svckit.telemetry import (
    JsonLinesSpanExporter,
    current_traceparent,
    extract_context,
    inject_context,
    links_to,
    span_context_from_traceparent,
    trace_ids,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


def test_the_exporter_writes_one_json_object_per_span_with_links(tmp_path: Path) -> None:
    path = tmp_path / "spans" / "intake.jsonl"  # the folder does not exist yet
    provider = TracerProvider(resource=Resource.create({"service.name": "intake"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("file case", kind=SpanKind.CONSUMER) as parent:
        parent.set_attribute("cityops.case_id", "C-1")
        with tracer.start_as_current_span("insert") as child:
            child.set_status(trace.Status(StatusCode.ERROR, "locked"))
    with tracer.start_as_current_span("verify", links=links_to(TRACEPARENT)):
        pass
    provider.shutdown()

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["name"] for r in records] == ["insert", "file case", "verify"]
    insert, file_case, verify = records
    assert all(r["service"] == "intake" for r in records)
    assert (file_case["kind"], insert["kind"]) == ("CONSUMER", "INTERNAL")
    assert file_case["parent_span_id"] is None
    assert insert["parent_span_id"] == file_case["span_id"]
    assert insert["trace_id"] == file_case["trace_id"] != verify["trace_id"]
    assert len(file_case["trace_id"]) == 32 and len(file_case["span_id"]) == 16
    assert file_case["attributes"] == {"cityops.case_id": "C-1"}
    assert (insert["status"], file_case["status"]) == ("ERROR", "UNSET")
    assert file_case["start_time"] <= insert["start_time"] <= insert["end_time"]
    assert file_case["links"] == insert["links"] == []
    assert verify["links"] == [{"trace_id": TRACE_ID, "span_id": SPAN_ID}]


def test_the_exporter_appends_to_what_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    for service in ("intake", "dispatch"):  # two processes, one file
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
        with provider.get_tracer("test").start_as_current_span(f"{service} work"):
            pass
        provider.shutdown()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["service"], r["name"]) for r in records] == [
        ("intake", "intake work"),
        ("dispatch", "dispatch work"),
    ]


def test_a_valid_traceparent_parses_to_a_remote_span_context() -> None:
    ctx = span_context_from_traceparent(TRACEPARENT)
    assert ctx is not None
    assert format(ctx.trace_id, "032x") == TRACE_ID and format(ctx.span_id, "016x") == SPAN_ID
    assert ctx.is_remote and ctx.trace_flags.sampled
    unsampled = span_context_from_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00")
    assert unsampled is not None and not unsampled.trace_flags.sampled


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "00-xyz-abc-01",
        f"00-{TRACE_ID}-{SPAN_ID}",
        f"00-{TRACE_ID}-{SPAN_ID}-zz",
        f"00-{'0' * 32}-{SPAN_ID}-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id
        f"00-{TRACE_ID}ab-{SPAN_ID}-01",  # trace id too long
        f"ff-{TRACE_ID}-{SPAN_ID}-01",  # version ff is forbidden
        # Accepted by int(x, 16) before svckit used the W3C parser:
        "00-1-2-01",
        "00-0x1f-0x2-01",
        f"00-{TRACE_ID}-{SPAN_ID}-1ff",
    ],
)
def test_garbage_is_not_a_span_context(garbage: str) -> None:
    assert span_context_from_traceparent(garbage) is None
    assert links_to(garbage) == []


def test_links_to_points_at_the_case_origin() -> None:
    assert links_to(None) == []
    (link,) = links_to(TRACEPARENT)
    assert format(link.context.trace_id, "032x") == TRACE_ID
    assert format(link.context.span_id, "016x") == SPAN_ID
    assert dict(link.attributes or {}) == {"cityops.link": "case_origin"}


def test_outside_a_span_there_is_no_context_to_carry() -> None:
    assert inject_context() == {}
    assert current_traceparent() == ""
    assert trace_ids() == ("", "")
    ctx = trace.get_current_span(extract_context(None)).get_span_context()
    assert not ctx.is_valid


def test_inject_then_extract_continues_the_same_trace(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")
    carrier = {"ce-id": "evt-1"}
    with tracer.start_as_current_span("publish") as producer:
        sent = producer.get_span_context()
        headers = inject_context(carrier)
        ids = trace_ids()
        assert current_traceparent() == headers["traceparent"]
    trace_id, span_id = format(sent.trace_id, "032x"), format(sent.span_id, "016x")
    version, *ids_sent, flags = headers["traceparent"].split("-")
    assert (version, ids_sent) == ("00", [trace_id, span_id])
    assert int(flags, 16) & 0x01  # sampled
    assert headers["ce-id"] == "evt-1" and carrier == {"ce-id": "evt-1"}  # a copy
    assert ids == (trace_id, span_id)

    received = trace.get_current_span(extract_context(headers)).get_span_context()
    assert (received.trace_id, received.span_id, received.is_remote) == (
        sent.trace_id,
        sent.span_id,
        True,
    )
    with tracer.start_as_current_span("process", context=extract_context(headers)):
        pass
    process = next(s for s in spans.get_finished_spans() if s.name == "process")
    assert process.context.trace_id == sent.trace_id
    assert process.parent is not None and process.parent.span_id == sent.span_id
