"""svckit.logging: one JSON object (or one readable line) per event on stderr,
carrying the service and, inside a span, the trace and span ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from svckit.logging import configure_logging, get_logger


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back after each test."""
    config = structlog.get_config()
    bound = structlog.contextvars.get_contextvars()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**bound)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""  # logs go to stderr only
    return captured.err.splitlines()


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(capsys)]


def test_json_lines_carry_service_level_time_and_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("intake")
    log = get_logger("intake.handlers")
    log.info("case filed", case_id="C-1", detections=2)
    log.warning("slow commit", case_id="C-1")
    first, second = json_lines(capsys)
    assert first["event"] == "case filed"
    assert (first["service"], first["level"], first["case_id"], first["detections"]) == (
        "intake",
        "info",
        "C-1",
        2,
    )
    assert first["timestamp"].endswith("Z")
    assert "trace_id" not in first and "span_id" not in first  # no span, no ids
    assert (second["event"], second["level"]) == ("slow commit", "warning")


def test_inside_a_span_lines_carry_its_trace_and_span_ids(
    capsys: pytest.CaptureFixture[str], spans: InMemorySpanExporter
) -> None:
    configure_logging("dispatch")
    log = get_logger(__name__)
    with trace.get_tracer("test").start_as_current_span("route") as span:
        log.info("dispatched", case_id="C-7")
        ctx = span.get_span_context()
    (line,) = json_lines(capsys)
    assert line["service"] == "dispatch" and line["case_id"] == "C-7"
    assert line["trace_id"] == format(ctx.trace_id, "032x")
    assert line["span_id"] == format(ctx.span_id, "016x")


def test_non_ascii_stays_readable_and_an_exception_stays_on_its_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("audit")
    log = get_logger(__name__)
    try:
        raise ValueError("账本损坏")
    except ValueError:
        log.exception("核查失败", case_id="C-9")
    raw = lines(capsys)
    assert len(raw) == 1 and "核查失败" in raw[0]
    line = json.loads(raw[0])
    assert line["level"] == "error" and line["event"] == "核查失败"
    assert "ValueError: 账本损坏" in line["exception"]


def test_events_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("workorders", level="warning")
    log = get_logger(__name__)
    log.debug("noise")
    log.info("more noise")
    log.error("order lost", case_id="C-3")
    assert [(line["event"], line["level"]) for line in json_lines(capsys)] == [
        ("order lost", "error")
    ]


def test_console_format_is_one_readable_line_per_event(
    capsys: pytest.CaptureFixture[str], spans: InMemorySpanExporter
) -> None:
    configure_logging("detection", fmt="console")
    log = get_logger(__name__)
    with trace.get_tracer("test").start_as_current_span("ingest") as span:
        log.info("detection accepted", case_id="C-5", source_id="cam-1")
        trace_id = format(span.get_span_context().trace_id, "032x")
    log.info("second event")
    first, second = lines(capsys)
    assert "detection accepted" in first and "second event" in second
    for field in ("service=detection", "case_id=C-5", "source_id=cam-1", f"trace_id={trace_id}"):
        assert field in first
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)
