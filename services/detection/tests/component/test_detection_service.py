"""The detection service in-process against a real nats-server: HTTP in, events out,
gRPC reads, duplicates and bad input refused without a trace in the stream."""

from __future__ import annotations

import asyncio
import functools
import json
import random
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlmodel import select

from cityops.detection.v1 import detection_service_pb2, detection_service_pb2_grpc, events_pb2
from detection.adapters.tables import DetectionRow
from detection.bootstrap import DetectionRuntime, bootstrap
from detection.config import DetectionSettings
from svckit import db
from svckit.clock import utcnow
from svckit.grpc.client import channel
from svckit.messaging.subjects import DETECTION_REPORTED
from svckit.natsserver import NatsServer
from svckit.reference import CityMap, default_city_map_path
from svckit.tables import OutboxMessage
from svckit.testing.polling import eventually

STREAM = "DETECTION"
DROP = object()  # a field to leave out of the report


@pytest.fixture
def settings(tmp_path: Path, nats_server: NatsServer) -> DetectionSettings:
    return DetectionSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path / "data",
        grpc_port=0,
        http_port=0,
        max_body_bytes=4096,
    )


@pytest.fixture
def keep_tracing(spans: InMemorySpanExporter) -> None:
    """Span capture installed for the test (the runtime only flushes the provider)."""


@asynccontextmanager
async def running(settings: DetectionSettings) -> AsyncIterator[DetectionRuntime]:
    runtime = await bootstrap(settings)
    task = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: runtime.http.started or task.done(), timeout=10, every=0.02)
        assert not task.done(), task
        yield runtime
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 20)


@asynccontextmanager
async def http(runtime: DetectionRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=runtime.http.url, trust_env=False) as client:
        yield client


@functools.cache
def point_in_city() -> tuple[float, float]:
    return CityMap.load(default_city_map_path()).random_point(random.Random(11))


def valid_report(**overrides: Any) -> dict[str, Any]:
    lat, lon = point_in_city()
    report: dict[str, Any] = {
        "source_id": "cam-0042",
        "source_event_id": "alarm-1",
        "source_kind": "video_ai",
        "category_code": "C0101",
        "latitude": lat,
        "longitude": lon,
        "observed_at": utcnow().isoformat(),
        "confidence": 0.93,
        "vendor": "hikvision",
        "model_name": "manhole-v3",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "evidence": [
            {
                "uri": "s3://ev/a.jpg",
                "sha256": "e" * 64,
                "media_type": "image/jpeg",
                "size_bytes": 51200,
            }
        ],
    }
    report.update(overrides)
    return {k: v for k, v in report.items() if v is not DROP}


async def stream_messages(nc: Client) -> int:
    info = await nc.jetstream().stream_info(STREAM)
    return int(info.state.messages)


async def test_a_report_is_accepted_once_published_once_and_readable(
    settings: DetectionSettings,
    nats_client: Client,
    spans: InMemorySpanExporter,
    keep_tracing: None,
) -> None:
    body = json.dumps(valid_report()).encode()
    async with running(settings) as runtime, http(runtime) as client:
        accepted = await client.post("/ingest/detections", content=body)
        assert accepted.status_code == 202, accepted.text
        detection_id = accepted.json()["detection_id"]
        assert accepted.json() == {"detection_id": detection_id, "duplicate": False}
        assert (await client.get("/healthz")).status_code == 200
        openapi = await client.get("/openapi.json")
        assert "/ingest/detections" in openapi.json()["paths"]
        assert "#/$defs/" not in openapi.text  # the hand-read body's schema resolves

        await eventually(lambda: stream_messages(nats_client), timeout=10, every=0.02)
        message = await nats_client.jetstream().get_msg(STREAM, 1)
        headers = message.headers or {}
        assert message.subject == DETECTION_REPORTED
        assert headers["ce-type"] == "cityops.detection.v1.DetectionReported"
        assert headers["ce-source"] == "/cityops/detection"
        assert headers["ce-specversion"] == "1.0"
        assert headers["ce-datacontenttype"] == "application/protobuf"
        assert headers["Nats-Msg-Id"] == headers["ce-id"]
        event = events_pb2.DetectionReported.FromString(message.data or b"")
        assert event.detection.detection_id == detection_id
        assert event.detection.idempotency_key == "cam-0042:alarm-1"
        assert event.detection.place.grid_code

        # The ingest request is the root SERVER span of the trace the event carries.
        trace_id = headers["traceparent"].split("-")[1]
        roots = [
            s
            for s in spans.get_finished_spans()
            if s.kind is SpanKind.SERVER and s.name == "POST /ingest/detections"
        ]
        assert len(roots) == 1 and roots[0].parent is None
        assert format(roots[0].context.trace_id, "032x") == trace_id
        # No span per ASGI receive/send event (they cost more than the insert).
        in_request = [
            s.name
            for s in spans.get_finished_spans()
            if s.parent is not None and s.parent.span_id == roots[0].context.span_id
        ]
        assert not [n for n in in_request if n.endswith(("http send", "http receive"))]

        again = await client.post("/ingest/detections", content=body)
        assert again.status_code == 200
        assert again.json() == {"detection_id": detection_id, "duplicate": True}
        assert await runtime.relay.pending_count() == 0
        assert await stream_messages(nats_client) == 1

        assert runtime.grpc is not None
        async with channel(runtime.grpc.address) as ch:
            stub = detection_service_pb2_grpc.DetectionServiceStub(ch)
            got = await stub.GetDetection(
                detection_service_pb2.GetDetectionRequest(detection_id=detection_id)
            )
            assert got.detection == event.detection
            for detection_id_asked, code in (
                ("no-such-id", grpc.StatusCode.NOT_FOUND),
                ("", grpc.StatusCode.INVALID_ARGUMENT),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.GetDetection(
                        detection_service_pb2.GetDetectionRequest(detection_id=detection_id_asked)
                    )
                assert caught.value.code() == code

    # A restarted service still knows the source event: it is in the database.
    async with running(settings) as runtime, http(runtime) as client:
        after_restart = await client.post("/ingest/detections", content=body)
        assert after_restart.json() == {"detection_id": detection_id, "duplicate": True}
        assert after_restart.status_code == 200
    assert await stream_messages(nats_client) == 1


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


BAD_JSON: list[tuple[str, bytes]] = [
    ("malformed JSON", b'{"source_id": '),
    ("not UTF-8", b'{"source_id": "\xff\xfe"}'),
    ("NaN is not JSON", json.dumps(valid_report()).replace("0.93", "NaN").encode()),
]
INVALID: list[tuple[dict[str, Any], list[Any]]] = [
    ({"source_id": DROP}, ["body", "source_id"]),
    ({"confidence": "0.9"}, ["body", "confidence"]),
    ({"colour": "red"}, ["body", "colour"]),
    ({"category_code": "C9999"}, ["body", "category_code"]),
    ({"latitude": 39.9, "longitude": 116.4}, ["body"]),
    ({"observed_at": "2999-01-01T00:00:00Z"}, ["body", "observed_at"]),
    ({"observed_at": "2025-01-01T00:00:00"}, ["body", "observed_at"]),
    ({"source_kind": "satellite"}, ["body", "source_kind"]),
    ({"urgency": "Whenever"}, ["body", "urgency"]),
    (
        {
            "evidence": [
                {"uri": "s3://x", "sha256": "abc", "media_type": "image/png", "size_bytes": 1}
            ]
        },
        ["body", "evidence", 0, "sha256"],
    ),
]


async def test_bad_input_is_refused_with_its_reason_and_leaves_no_trace(
    settings: DetectionSettings, nats_client: Client, keep_tracing: None
) -> None:
    async with running(settings) as runtime, http(runtime) as client:
        for label, raw in BAD_JSON:
            response = await client.post("/ingest/detections", content=raw)
            assert response.status_code == 400, label
            assert "malformed JSON" in response.json()["detail"], label

        array = await client.post("/ingest/detections", json=[valid_report()])
        assert array.status_code == 422 and "JSON object" in array.text

        for overrides, loc in INVALID:
            response = await client.post("/ingest/detections", json=valid_report(**overrides))
            assert response.status_code == 422, (overrides, response.text)
            detail = response.json()["detail"]
            assert loc in [item["loc"] for item in detail], (overrides, detail)
            assert all(item["msg"] for item in detail)

        padded = valid_report(description="x" * settings.max_body_bytes)
        oversized = json.dumps(padded).encode()
        declared = await client.post("/ingest/detections", content=oversized)
        assert declared.status_code == 413
        streamed = await client.post("/ingest/detections", content=chunked(oversized))
        assert streamed.status_code == 413
        assert "content-length" not in streamed.request.headers

        async with db.session_factory(runtime.engine)() as session:
            assert (await session.exec(select(DetectionRow))).all() == []
            assert (await session.exec(select(OutboxMessage))).all() == []

        # The relay is live: a good report goes through and is the stream's only message.
        good = await client.post("/ingest/detections", json=valid_report(source_event_id="ok"))
        assert good.status_code == 202
        await eventually(lambda: stream_messages(nats_client), timeout=10, every=0.02)
        message = await nats_client.jetstream().get_msg(STREAM, 1)
        event = events_pb2.DetectionReported.FromString(message.data or b"")
        assert event.detection.detection_id == good.json()["detection_id"]
        assert await stream_messages(nats_client) == 1


async def test_the_running_service_purges_detections_past_retention(
    settings: DetectionSettings,
) -> None:
    """The sweeper is wired into the process: a detection received long ago
    goes, one received now stays."""
    settings = settings.model_copy(update={"retention_days": 30, "retention_sweep_seconds": 0.05})
    async with running(settings) as runtime, http(runtime) as client:
        fresh = await client.post("/ingest/detections", json=valid_report())
        old = await client.post(
            "/ingest/detections", json=valid_report(source_event_id="alarm-old")
        )
        assert fresh.status_code == old.status_code == 202
        old_id = old.json()["detection_id"]
        async with db.session_factory(runtime.engine)() as session:
            row = await session.get(DetectionRow, old_id)
            assert row is not None
            row.received_at = utcnow() - timedelta(days=31)
            session.add(row)
            await session.commit()

        async def ids() -> set[str]:
            async with db.session_factory(runtime.engine)() as session:
                return {r.detection_id for r in await session.exec(select(DetectionRow))}

        await eventually(lambda: _without(ids(), old_id), timeout=10)
        assert await ids() == {fresh.json()["detection_id"]}


async def _without(found: Awaitable[set[str]], detection_id: str) -> bool:
    return detection_id not in await found
