"""The department's whole feedback through real gRPC and the real NATS object
store: accept → upload before & after photos → complete; the completed event
pins both files by hash (what the audit ledger keeps) and carries their flags;
a changed byte in the store is detected on read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest

from cityops.workorders.v1 import events_pb2, work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as api
from svckit.clock import utcnow
from svckit.grpc.identity import Caller
from workorders.domain.evidence import URI_SCHEME

from .conftest import LAT, LON, Harness

WATER = Caller("u-water", "department_user", "water")
AUDITOR = Caller("u-audit", "auditor")
COMPLETED = "cityops.workorders.v1.WorkOrderCompleted"
BUCKET = "cityops-evidence"


async def test_accept_upload_before_and_after_then_complete_with_hashes(
    harness: Harness, make_photo: Callable[..., bytes], status_of: Any
) -> None:
    stub = await harness.start(require_uploaded_evidence=True)
    deadline = utcnow() + timedelta(hours=48)
    order = await harness.dispatch("C-1", "water", deadline=deadline)
    meta = WATER.metadata()
    oid = order.order_id

    await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="a-1", order_id=oid), metadata=meta
    )
    early = api.CompleteWorkOrderRequest(request_id="c-0", order_id=oid, note="fixed")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CompleteWorkOrder(early, metadata=meta)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "before_photo, after_photo" in (refused.value.details() or "")

    before_bytes = make_photo(latitude=LAT, longitude=LON, taken_at=utcnow())
    after_bytes = make_photo(latitude=LAT + 0.02, longitude=LON, taken_at=utcnow(), color=(9, 9, 9))
    before = await stub.UploadEvidence(
        api.UploadEvidenceRequest(
            request_id="u-1",
            order_id=oid,
            file_name="before.jpg",
            media_type="image/jpeg",
            content=before_bytes,
            kind=work_order_pb2.EVIDENCE_KIND_BEFORE_PHOTO,
        ),
        metadata=meta,
    )
    after_request = api.UploadEvidenceRequest(
        request_id="u-2",
        order_id=oid,
        file_name="after.jpg",
        media_type="image/jpeg",
        content=after_bytes,
        kind=work_order_pb2.EVIDENCE_KIND_AFTER_PHOTO,
    )
    after = await stub.UploadEvidence(after_request, metadata=meta)
    assert await stub.UploadEvidence(after_request, metadata=meta) == after  # retried: one upload
    assert before.evidence.ref.sha256 == hashlib.sha256(before_bytes).hexdigest()
    assert before.evidence.ref.uri == f"{URI_SCHEME}://{BUCKET}/{oid}/{before.evidence.evidence_id}"
    assert list(before.evidence.flags) == []
    assert [f.code for f in after.evidence.flags] == ["location_mismatch"]  # ~2.2 km away

    # The bytes really are in the JetStream object store, under the recorded key.
    store = await harness.js.object_store(BUCKET)
    stored = await store.get(f"{oid}/{before.evidence.evidence_id}")
    assert stored.data == before_bytes

    progress = api.ReportProgressRequest(
        request_id="p-1", order_id=oid, note="阀门拆下", evidence_ids=[before.evidence.evidence_id]
    )
    await stub.ReportProgress(progress, metadata=meta)
    [progressed] = await harness.event("cityops.workorders.v1.WorkOrderProgressed", "C-1")
    assert isinstance(progressed.message, events_pb2.WorkOrderProgressed)
    assert list(progressed.message.evidence) == [before.evidence.ref]
    assert [i.evidence_id for i in progressed.message.evidence_items] == [
        before.evidence.evidence_id
    ]

    done = await stub.CompleteWorkOrder(
        api.CompleteWorkOrderRequest(request_id="c-1", order_id=oid, note="阀门已更换"),
        metadata=meta,
    )
    assert done.work_order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
    assert 0 < done.work_order.remaining_seconds <= 48 * 3600

    [event] = await harness.event(COMPLETED, "C-1")
    completed = event.message
    assert isinstance(completed, events_pb2.WorkOrderCompleted)
    assert [(e.uri, e.sha256) for e in completed.evidence] == [
        (before.evidence.ref.uri, hashlib.sha256(before_bytes).hexdigest()),
        (after.evidence.ref.uri, hashlib.sha256(after_bytes).hexdigest()),
    ]
    assert [i.kind for i in completed.evidence_items] == [
        work_order_pb2.EVIDENCE_KIND_BEFORE_PHOTO,
        work_order_pb2.EVIDENCE_KIND_AFTER_PHOTO,
    ]
    assert [f.code for f in completed.evidence_items[1].flags] == ["location_mismatch"]
    assert completed.note == "阀门已更换" and completed.actor.user_id == "u-water"

    # Read back verified; then one changed byte in the store is detected and flagged.
    read = api.GetEvidenceRequest(order_id=oid, evidence_id=before.evidence.evidence_id)
    got = await stub.GetEvidence(read, metadata=AUDITOR.metadata())
    assert got.content == before_bytes
    tampered = bytearray(before_bytes)
    tampered[len(tampered) // 2] ^= 0x01
    await store.put(f"{oid}/{before.evidence.evidence_id}", bytes(tampered))
    assert await status_of(stub.GetEvidence(read, metadata=AUDITOR.metadata())) == (
        grpc.StatusCode.DATA_LOSS
    )
    shown = await stub.GetWorkOrder(api.GetWorkOrderRequest(order_id=oid), metadata=meta)
    [flagged, _] = shown.work_order.evidence_items
    assert [f.code for f in flagged.flags] == ["integrity_mismatch"]


async def test_uploads_are_limited_by_type_and_size(
    harness: Harness, make_photo: Callable[..., bytes], status_of: Any
) -> None:
    stub = await harness.start(evidence_max_bytes=2048)
    order = await harness.dispatch("C-2", "water")
    meta = WATER.metadata()
    await stub.AcceptWorkOrder(
        api.AcceptWorkOrderRequest(request_id="a-1", order_id=order.order_id), metadata=meta
    )

    def request(request_id: str, media_type: str, content: bytes) -> api.UploadEvidenceRequest:
        return api.UploadEvidenceRequest(
            request_id=request_id,
            order_id=order.order_id,
            file_name="x",
            media_type=media_type,
            content=content,
            kind=work_order_pb2.EVIDENCE_KIND_OTHER,
        )

    big = make_photo() + b"\0" * 4096
    for bad in (
        request("b-1", "image/jpeg", big),
        request("b-2", "image/gif", b"GIF89a" + b"\0" * 10),
        request("b-3", "application/pdf", make_photo()),
    ):
        assert await status_of(stub.UploadEvidence(bad, metadata=meta)) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
    no_kind = request("b-4", "image/jpeg", make_photo())
    no_kind.kind = work_order_pb2.EVIDENCE_KIND_UNSPECIFIED
    assert await status_of(stub.UploadEvidence(no_kind, metadata=meta)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    shown = await stub.GetWorkOrder(api.GetWorkOrderRequest(order_id=order.order_id), metadata=meta)
    assert list(shown.work_order.evidence_items) == []
