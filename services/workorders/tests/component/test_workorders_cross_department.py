"""OWASP API1 (broken object level authorization) over real gRPC: for every
RPC that takes an id (a page token included), department water uses
department roads' id and is refused with PERMISSION_DENIED or NOT_FOUND (or,
for a listing, shown only its own orders), and nothing changes: not the
orders, not the evidence, not the event stream, not the object store.
Overseers (the operations centre, inspectors) read every department's orders
and evidence and act on none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from cityops.common.v1 import common_pb2
from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as api
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.grpc.identity import Caller

from .conftest import Harness

WATER = Caller("u-water", "department_user", "water")
ROADS = Caller("u-roads", "department_user", "roads")
OPERATOR = Caller("u-op", "operator")
INSPECTOR = Caller("u-inspector", "inspector", "centre-inspection")
DENIED = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND}


def upload(order_id: str, request_id: str, content: bytes) -> api.UploadEvidenceRequest:
    return api.UploadEvidenceRequest(
        request_id=request_id,
        order_id=order_id,
        file_name="site.jpg",
        media_type="image/jpeg",
        content=content,
        kind=work_order_pb2.EVIDENCE_KIND_BEFORE_PHOTO,
    )


async def snapshot(
    stub: api_grpc.WorkOrdersServiceAsyncStub, harness: Harness, order_ids: list[str]
) -> tuple[list[work_order_pb2.WorkOrder], int, int]:
    """The orders as an overseer sees them (without the ticking remaining times),
    the number of events published and of objects stored."""
    orders = []
    for oid in order_ids:
        reply = await stub.GetWorkOrder(
            api.GetWorkOrderRequest(order_id=oid), metadata=OPERATOR.metadata()
        )
        reply.work_order.ClearField("remaining_seconds")
        reply.work_order.ClearField("remaining_working_seconds")
        orders.append(reply.work_order)
    store = await harness.js.object_store("cityops-evidence")
    objects = len(await store.list())
    return orders, len(await harness.events()), objects


async def test_department_a_cannot_use_department_bs_ids(
    harness: Harness, make_photo: Callable[..., bytes], status_of: Any
) -> None:
    stub = await harness.start()
    water_order = await harness.dispatch("C-W", "water")
    fresh = await harness.dispatch("C-R1", "roads")  # CREATED: accept / return would be legal
    working = await harness.dispatch("C-R2", "roads")  # ACCEPTED: the rest would be legal
    roads, water = ROADS.metadata(), WATER.metadata()
    photo = make_photo()
    for oid, owner in ((working.order_id, roads), (water_order.order_id, water)):
        await stub.AcceptWorkOrder(
            api.AcceptWorkOrderRequest(request_id=f"a-{oid}", order_id=oid), metadata=owner
        )
    roads_upload = await stub.UploadEvidence(
        upload(working.order_id, "ru-1", photo), metadata=roads
    )
    roads_evidence = roads_upload.evidence
    ids = [water_order.order_id, fresh.order_id, working.order_id]
    before = await snapshot(stub, harness, ids)

    calls = _calls(stub, water, fresh, working, water_order, roads_evidence, photo)
    codes = {name: await status_of(call) for name, call in calls}
    assert {name: code for name, code in codes.items() if code not in DENIED} == {}
    assert codes["GetWorkOrder"] == grpc.StatusCode.NOT_FOUND  # existence not disclosed

    listed = await stub.ListWorkOrders(api.ListWorkOrdersRequest(case_id="C-R1"), metadata=water)
    assert list(listed.work_orders) == []
    own = await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=water)
    assert [o.order_id for o in own.work_orders] == [water_order.order_id]
    # Roads' page token resumes water's own listing, never roads'.
    roads_page = await stub.ListWorkOrders(api.ListWorkOrdersRequest(page_size=1), metadata=roads)
    assert [o.order_id for o in roads_page.work_orders] == [fresh.order_id]
    assert roads_page.next_page_token
    resumed = await stub.ListWorkOrders(
        api.ListWorkOrdersRequest(page_size=1, page_token=roads_page.next_page_token),
        metadata=water,
    )
    assert {o.department_id for o in resumed.work_orders} <= {"water"}
    assert await snapshot(stub, harness, ids) == before

    # Overseers read every department's orders and evidence but act on nothing.
    for overseer in (OPERATOR, INSPECTOR):
        md = overseer.metadata()
        everything = await stub.ListWorkOrders(api.ListWorkOrdersRequest(), metadata=md)
        assert [o.order_id for o in everything.work_orders] == ids
        calls = _calls(stub, md, fresh, working, water_order, roads_evidence, photo)
        outcomes = {name: await outcome(call) for name, call in calls}
        assert outcomes == OVERSEER_OUTCOMES, overseer.role
        got = await stub.GetEvidence(
            api.GetEvidenceRequest(
                order_id=working.order_id, evidence_id=roads_evidence.evidence_id
            ),
            metadata=md,
        )
        assert got.content == photo and got.evidence == roads_evidence
    assert await snapshot(stub, harness, ids) == before


OK = grpc.StatusCode.OK
DENY = grpc.StatusCode.PERMISSION_DENIED
OVERSEER_OUTCOMES = {
    "GetWorkOrder": OK,
    "AcceptWorkOrder (with roads' request_id)": DENY,
    "ReturnWorkOrder": DENY,
    "ReportProgress": DENY,
    "RequestExtension": DENY,
    "CompleteWorkOrder": DENY,
    "UploadEvidence": DENY,
    "GetEvidence": OK,
    # The evidence exists, but not on that order.
    "GetEvidence (own order, roads' evidence id)": grpc.StatusCode.NOT_FOUND,
    "ReportProgress (own order, roads' evidence id)": DENY,
    "CompleteWorkOrder (own order, roads' evidence ref)": DENY,
}


async def outcome(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _calls(
    stub: api_grpc.WorkOrdersServiceAsyncStub,
    water: tuple[tuple[str, str], ...],
    fresh: work_order_pb2.WorkOrder,
    working: work_order_pb2.WorkOrder,
    own: work_order_pb2.WorkOrder,
    evidence: work_order_pb2.EvidenceItem,
    photo: bytes,
) -> list[tuple[str, Any]]:
    """Every RPC that takes an id, called by water with roads' ids."""
    ref = common_pb2.EvidenceRef()
    ref.CopyFrom(evidence.ref)
    return [
        (
            "GetWorkOrder",
            stub.GetWorkOrder(api.GetWorkOrderRequest(order_id=fresh.order_id), metadata=water),
        ),
        (
            "AcceptWorkOrder (with roads' request_id)",
            stub.AcceptWorkOrder(
                api.AcceptWorkOrderRequest(
                    request_id=f"a-{working.order_id}", order_id=fresh.order_id
                ),
                metadata=water,
            ),
        ),
        (
            "ReturnWorkOrder",
            stub.ReturnWorkOrder(
                api.ReturnWorkOrderRequest(
                    request_id="w-2",
                    order_id=fresh.order_id,
                    reason=work_order_pb2.RETURN_REASON_OUTSIDE_JURISDICTION,
                ),
                metadata=water,
            ),
        ),
        (
            "ReportProgress",
            stub.ReportProgress(
                api.ReportProgressRequest(request_id="w-3", order_id=working.order_id, note="n"),
                metadata=water,
            ),
        ),
        (
            "RequestExtension",
            stub.RequestExtension(
                api.RequestExtensionRequest(
                    request_id="w-4", order_id=working.order_id, requested_hours=8, reason="r"
                ),
                metadata=water,
            ),
        ),
        (
            "CompleteWorkOrder",
            stub.CompleteWorkOrder(
                api.CompleteWorkOrderRequest(request_id="w-5", order_id=working.order_id, note="n"),
                metadata=water,
            ),
        ),
        (
            "UploadEvidence",
            stub.UploadEvidence(upload(working.order_id, "w-6", photo), metadata=water),
        ),
        (
            "GetEvidence",
            stub.GetEvidence(
                api.GetEvidenceRequest(order_id=working.order_id, evidence_id=evidence.evidence_id),
                metadata=water,
            ),
        ),
        (
            "GetEvidence (own order, roads' evidence id)",
            stub.GetEvidence(
                api.GetEvidenceRequest(order_id=own.order_id, evidence_id=evidence.evidence_id),
                metadata=water,
            ),
        ),
        (
            "ReportProgress (own order, roads' evidence id)",
            stub.ReportProgress(
                api.ReportProgressRequest(
                    request_id="w-7",
                    order_id=own.order_id,
                    note="n",
                    evidence_ids=[evidence.evidence_id],
                ),
                metadata=water,
            ),
        ),
        (
            "CompleteWorkOrder (own order, roads' evidence ref)",
            stub.CompleteWorkOrder(
                api.CompleteWorkOrderRequest(
                    request_id="w-8", order_id=own.order_id, note="n", evidence=[ref]
                ),
                metadata=water,
            ),
        ),
    ]
