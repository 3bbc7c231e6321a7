"""Spans for people's actions: days after discovery, in a new trace linked to the case's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from svckit.telemetry import links_to

tracer = trace.get_tracer("dispatch")


@contextmanager
def action_span(name: str, case_id: str, origin_traceparent: str = "") -> Iterator[trace.Span]:
    with tracer.start_as_current_span(
        name, links=links_to(origin_traceparent), attributes={"cityops.case_id": case_id}
    ) as span:
        yield span
