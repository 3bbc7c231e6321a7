"""One detection travels the whole loop, each service its own process, on
SQLite and again on PostgreSQL (one database per service)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import audit_service_pb2_grpc as audit_grpc
from cityops.intake.v1 import case_pb2
from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from cityops.workorders.v1 import workorders_service_pb2_grpc as wo_grpc
from cityops_tools.devstack import Stack
from cityops_tools.loop import INSPECTOR, OPERATOR, LoopDriver
from e2e.conftest import DEMO_PASSWORD
from e2e.helpers import all_cases, eventually, read_spans
from svckit.grpc.client import channel

pytestmark = pytest.mark.parametrize("stack", ["sqlite", "postgresql"], indirect=True)

POTHOLE = {
    "source_id": "cam-0042",
    "source_event_id": "evt-1",
    "source_kind": "video_ai",
    "category_code": "E0105",
    "latitude": 31.25,
    "longitude": 121.50,
    "confidence": 0.93,
    "description": "路面坑洼",
    "evidence": [
        {
            "uri": "https://evidence.sample-city.example/cam-0042/1.jpg",
            "sha256": hashlib.sha256(b"frame").hexdigest(),
            "media_type": "image/jpeg",
            "size_bytes": 120000,
        }
    ],
}

LOOP_STEPS = [
    "cityops.detection.v1.DetectionReported",
    "cityops.intake.v1.CaseFiled",
    "cityops.dispatch.v1.CaseDispatched",
    "cityops.workorders.v1.WorkOrderCreated",
    "cityops.workorders.v1.WorkOrderAccepted",
    "cityops.workorders.v1.WorkOrderCompleted",
    "cityops.audit.v1.CaseVerified",
    "cityops.audit.v1.CaseClosed",
]


def ingest_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.detection_http}/ingest/detections"


async def test_a_detection_travels_the_whole_loop_to_closed(stack: Stack) -> None:
    body = {**POTHOLE, "observed_at": datetime.now(UTC).isoformat()}
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(ingest_url(stack), json=body)
        assert reply.status_code == 202, reply.text
        detection_id = reply.json()["detection_id"]

        async def filed_case() -> case_pb2.Case | None:
            found = [c for c in await all_cases(stack) if detection_id in c.detection_ids]
            return found[0] if found else None

        case = await eventually(filed_case)
        driver = LoopDriver(
            stack.ports.grpc_target("intake"),
            stack.ports.grpc_target("workorders"),
            stack.ports.grpc_target("audit"),
            record_uploads=True,
        )

        async def closed() -> case_pb2.Case | None:
            await driver.step()
            current = await filed_case()
            return current if current and current.state == case_pb2.CASE_STATE_CLOSED else None

        case = await eventually(closed, timeout=90)
        assert case.lead_department_id.startswith(case.place.district_code)

        # The ledger holds each step in order.
        audit = audit_grpc.AuditServiceStub(channel(stack.ports.grpc_target("audit")))

        async def full_timeline() -> list[str] | None:
            reply = await audit.GetTimeline(
                audit_pb.GetTimelineRequest(case_id=case.case_id), metadata=OPERATOR.metadata()
            )
            # Audit follows each stream with its own consumer, so append order
            # across streams is not causal; the events' own times are.
            entries = sorted(reply.entries, key=lambda e: e.occurred_at.ToNanoseconds())
            types = [e.event_type for e in entries]
            return types if "cityops.audit.v1.CaseClosed" in types else None

        types = await eventually(full_timeline)
        assert [t for t in types if t in LOOP_STEPS] == LOOP_STEPS
        verdict = await audit.VerifyLedger(
            audit_pb.VerifyLedgerRequest(), metadata=OPERATOR.metadata()
        )
        assert verdict.ok, verdict.problem
        await assert_dossier_pins_the_photos(stack, audit, driver, case.case_id)

        # The console shows it closed, with its timeline, to a logged-in operator.
        console = f"http://127.0.0.1:{stack.ports.console_http}"
        login = await http.post(
            f"{console}/api/session", json={"user_id": "operator", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        page = await http.get(f"{console}/cases/{case.case_id}?lang=en")
        assert page.status_code == 200
        assert "Closed" in page.text and "CaseClosed" in page.text
        listing = await http.get(f"{console}/cases?lang=zh-CN")
        assert case.case_id in listing.text and "已结案" in listing.text

    # Every step's span is in the discovery trace or in a trace linked to it.
    assert stack.span_dir is not None
    span_dir = stack.span_dir

    async def chain() -> set[tuple[str, str]] | None:
        spans = read_spans(span_dir)
        ingest = [s for s in spans if is_ingest(s)]
        if not ingest:
            return None
        origin = ingest[0]["trace_id"]
        linked = {
            s["trace_id"] for s in spans if any(link["trace_id"] == origin for link in s["links"])
        }
        found = {(s["service"], s["name"]) for s in spans if s["trace_id"] in {origin} | linked}
        return found if found >= CHAIN else None

    await eventually(chain, timeout=30)
    spans = read_spans(span_dir)
    origin = next(s for s in spans if is_ingest(s))["trace_id"]
    # The asynchronous hops are children in the discovery trace itself, not new roots.
    for service, name in CHAIN_IN_ORIGIN_TRACE:
        span = next(s for s in spans if s["service"] == service and s["name"] == name)
        assert span["trace_id"] == origin and span["parent_span_id"], (service, name)
    # The people's actions started new traces, each linked to the discovery trace.
    for service, name in CHAIN - CHAIN_IN_ORIGIN_TRACE:
        span = next(s for s in spans if s["service"] == service and s["name"] == name)
        assert span["trace_id"] != origin or any(
            link["trace_id"] == origin for link in span["links"]
        )


async def assert_dossier_pins_the_photos(
    stack: Stack, audit: audit_grpc.AuditServiceStub, driver: LoopDriver, case_id: str
) -> None:
    """The department's before/after photos: the order is COMPLETED citing
    them, and the case dossier's completion entry pins the sha256 of the very
    bytes the evidence store holds."""
    orders = wo_grpc.WorkOrdersServiceStub(channel(stack.ports.grpc_target("workorders")))
    listed = await orders.ListWorkOrders(
        wo_pb.ListWorkOrdersRequest(case_id=case_id), metadata=INSPECTOR.metadata()
    )
    [order] = listed.work_orders
    assert order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
    uploaded = driver.uploads[order.order_id]
    assert sorted(uploaded) == ["after.jpg", "before.jpg"]
    stored: dict[str, str] = {}
    for item in uploaded.values():
        # An inspector reads any department's evidence; the bytes are hashed here.
        reply = await orders.GetEvidence(
            wo_pb.GetEvidenceRequest(order_id=order.order_id, evidence_id=item.evidence_id),
            metadata=INSPECTOR.metadata(),
        )
        stored[item.ref.uri] = hashlib.sha256(reply.content).hexdigest()
        assert stored[item.ref.uri] == item.ref.sha256
    assert len(set(stored.values())) == 2
    assert {(e.ref.uri, e.ref.sha256) for e in order.evidence_items} == set(stored.items())

    dossier = await audit.GetDossier(
        audit_pb.GetDossierRequest(case_id=case_id, format=audit_pb.DOSSIER_FORMAT_JSON),
        metadata=OPERATOR.metadata(),
    )
    doc = json.loads(dossier.content)
    assert doc["problems"] == []
    [completion] = [
        e for e in doc["entries"] if e["event_type"] == "cityops.workorders.v1.WorkOrderCompleted"
    ]
    assert completion["department_id"] == order.department_id
    cited = {
        e["uri"]: e["sha256"] for e in doc["evidence"] if e["sequence"] == completion["sequence"]
    }
    assert cited == stored
    assert all(uri.startswith("nats-os://cityops-evidence/") for uri in cited)


CHAIN_IN_ORIGIN_TRACE = {
    ("intake", "cityops.detection.detection.reported process"),
    ("dispatch", "cityops.intake.case.filed process"),
    ("workorders", "cityops.dispatch.case.dispatched process"),
}
ACTIONS = {
    ("workorders", "workorders.accept"),
    ("workorders", "workorders.complete"),
    ("audit", "audit.verify"),
    ("audit", "audit.close"),
}
CHAIN = CHAIN_IN_ORIGIN_TRACE | ACTIONS | {("intake", "cityops.audit.case.closed process")}


def is_ingest(span: dict[str, Any]) -> bool:
    return bool(
        span["service"] == "detection"
        and span["kind"] == "SERVER"
        and "/ingest/detections" in span["name"]
    )


async def test_malformed_detections_get_4xx_and_publish_nothing(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        before = len(await all_cases(stack))
        bad_json = await http.post(
            ingest_url(stack), content=b"{not json", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 400
        missing = await http.post(ingest_url(stack), json={"source_id": "cam-1"})
        assert missing.status_code == 422
        outside = {
            **POTHOLE,
            "source_event_id": "far",
            "latitude": 39.9,
            "longitude": 116.4,
            "observed_at": datetime.now(UTC).isoformat(),
        }
        reply = await http.post(ingest_url(stack), json=outside)
        assert reply.status_code == 422 and "city" in reply.text.lower()
        # Something valid behind them shows the pipeline is alive and the bad ones left nothing.
        good = {
            **POTHOLE,
            "source_event_id": f"good-{random.random()}",
            # Elsewhere and another 小类, so fusion cannot join an earlier test's case.
            "category_code": "E0101",
            "latitude": 31.19,
            "longitude": 121.42,
            "observed_at": datetime.now(UTC).isoformat(),
        }
        accepted = (await http.post(ingest_url(stack), json=good)).json()["detection_id"]

        async def filed() -> list[case_pb2.Case] | None:
            cases = await all_cases(stack)
            return cases if any(accepted in c.detection_ids for c in cases) else None

        cases = await eventually(filed)
        assert len(cases) == before + 1
