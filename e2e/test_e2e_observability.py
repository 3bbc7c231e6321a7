"""After a case has gone round the loop: every service's /metrics tells what it
did, and the case's log lines are found by its trace id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cityops.intake.v1 import case_pb2
from cityops_tools.devstack import Stack
from cityops_tools.loop import LoopDriver
from e2e.helpers import all_cases, eventually

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit")


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


async def test_metrics_and_logs_follow_a_case(stack: Stack) -> None:
    body = {
        "source_id": "cam-7001",
        "source_event_id": "obs-1",
        "source_kind": "video_ai",
        "category_code": "E0101",
        "latitude": 31.21,
        "longitude": 121.44,
        "confidence": 0.95,
        "observed_at": datetime.now(UTC).isoformat(),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(
            f"http://127.0.0.1:{stack.ports.detection_http}/ingest/detections", json=body
        )
        assert reply.status_code == 202
        detection_id = reply.json()["detection_id"]
        driver = LoopDriver(
            stack.ports.grpc_target("intake"),
            stack.ports.grpc_target("workorders"),
            stack.ports.grpc_target("audit"),
        )

        async def closed() -> case_pb2.Case | None:
            await driver.step()
            found = [c for c in await all_cases(stack) if detection_id in c.detection_ids]
            return found[0] if found and found[0].state == case_pb2.CASE_STATE_CLOSED else None

        case = await eventually(closed, timeout=90)

        texts = {}
        for service in (*SERVICES, "console"):
            port = getattr(stack.ports, f"{service}_metrics")
            texts[service] = (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    published = {
        labels["subject"]
        for labels, value in samples(texts["detection"], "cityops_events_published_total")
        if value
    }
    assert "cityops.detection.detection.reported" in published
    consumed = {
        labels["consumer"]
        for service in SERVICES
        for labels, value in samples(texts[service], "cityops_events_consumed_total")
        if value and labels["outcome"] == "ok"
    }
    assert {
        "intake-detection",
        "dispatch-intake",
        "workorders-dispatch",
        "audit-audit",
        "intake-audit",
    } <= consumed
    lag = {
        labels["consumer"]
        for labels, _ in samples(texts["audit"], "cityops_consumer_pending_messages")
    }
    assert {
        "audit-detection",
        "audit-intake",
        "audit-dispatch",
        "audit-workorders",
        "audit-audit",
    } <= lag
    assert samples(texts["intake"], "cityops_outbox_backlog")
    assert samples(texts["intake"], "cityops_handler_seconds_count")
    for service, text in texts.items():
        assert samples(text, "process_resident_memory_bytes"), service

    # The case's discovery trace id finds its log lines in the services that handled it.
    assert stack.log_dir is not None
    logged_services = set()
    for path in stack.log_dir.glob("*.log"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if case.trace_id in line:
                record = json.loads(line)
                assert record["trace_id"] == case.trace_id
                logged_services.add(record["service"])
    assert {"detection", "intake", "dispatch", "workorders"} <= logged_services
