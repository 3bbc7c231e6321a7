"""OpenTelemetry tracing: one provider per process, W3C context in message
headers, and links from later human actions back to a case's discovery trace."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_W3C = TraceContextTextMapPropagator()


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object a line.

    Lets a test collect the spans of many processes without running an OTLP
    receiver, and survives a process being killed (every batch is flushed).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_to_dict(s), ensure_ascii=False) for s in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write("".join(f"{line}\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts the spans it must drop when its queue is full."""

    def on_end(self, span: ReadableSpan) -> None:
        batch = getattr(self, "_batch_processor", None)
        queue = getattr(batch, "_queue", None)
        limit = getattr(batch, "_max_queue_size", None)
        if queue is not None and limit is not None and len(queue) >= limit:
            from svckit.metrics import SPANS_DROPPED

            SPANS_DROPPED.inc()
        super().on_end(span)


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "links": [
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
            }
            for link in span.links
        ],
        "attributes": dict(span.attributes or {}),
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
    }


def configure_tracing(
    service: str,
    *,
    otlp_endpoint: str | None = None,
    span_file: Path | None = None,
    extra_exporters: Sequence[SpanExporter] = (),
) -> TracerProvider:
    """Install this process's tracer provider with the configured exporters."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            CountingBatchSpanProcessor(
                OTLPSpanExporter(endpoint=otlp_endpoint),
                max_queue_size=8192,
                max_export_batch_size=1024,
                schedule_delay_millis=1000,
            )
        )
    if span_file:
        provider.add_span_processor(
            CountingBatchSpanProcessor(
                JsonLinesSpanExporter(span_file), max_queue_size=8192, schedule_delay_millis=200
            )
        )
    for exporter in extra_exporters:
        provider.add_span_processor(CountingBatchSpanProcessor(exporter, schedule_delay_millis=50))
    trace.set_tracer_provider(provider)
    return provider


def inject_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current W3C trace context as headers (traceparent, tracestate)."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract_context(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


def current_traceparent() -> str:
    return inject_context().get("traceparent", "")


def span_context_from_traceparent(traceparent: str) -> SpanContext | None:
    """Parse a stored `traceparent` so a later action can link to it.

    The W3C parser decides: `int(x, 16)` alone would take "00-1-2-01" or
    "0x…" ids and flags above one byte as a context to link to.
    """
    context = _W3C.extract({"traceparent": traceparent})
    ctx = trace.get_current_span(context).get_span_context()
    return ctx if ctx.is_valid else None


def links_to(traceparent: str | None) -> list[Link]:
    """Span links to a case's discovery trace, for actions taken later."""
    ctx = span_context_from_traceparent(traceparent or "")
    return [Link(ctx, {"cityops.link": "case_origin"})] if ctx else []


def trace_ids() -> tuple[str, str]:
    """(trace_id, span_id) of the current span, hex, or empty strings."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return "", ""
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
