"""Departments' use cases on their work orders, and the escalation board.

A department user sees and acts on its own department's orders only; the
console checks that before any action (another department's order is
reported absent) and workorders checks again.
"""

from __future__ import annotations

from typing import Any

from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from console.adapters.clients import call
from console.domain.access import Permission, Principal, ensure_own_order
from console.domain.states import OPEN_ORDER_STATES
from console.service_layer.context import Console, caller, enum_value
from svckit.clock import new_id
from svckit.errors import InvalidArgumentError, PermissionDeniedError


def _rid(request_id: str) -> str:
    return request_id.strip() or new_id("console-")


def _may_read(p: Principal) -> None:
    if not (p.can(Permission.VIEW_ALL_ORDERS) or p.can(Permission.ACT_ON_OWN_ORDERS)):
        raise PermissionDeniedError(f"role {p.role.value} may not read work orders")


async def list_orders(
    console: Console, p: Principal, states: list[str], case_id: str = ""
) -> list[Any]:
    """A department's inbox (its own orders only), or every order for the centre."""
    _may_read(p)
    values: list[Any] = [
        enum_value(work_order_pb2.WorkOrderState, s, "work order state") for s in states
    ]
    reply = await call(
        console.clients.workorders.ListWorkOrders,
        wo_pb.ListWorkOrdersRequest(states=values, case_id=case_id, page_size=500),
        caller(p),
    )
    orders = list(reply.work_orders)
    if not p.can(Permission.VIEW_ALL_ORDERS):
        orders = [o for o in orders if o.department_id == p.department_id]
    return orders


async def open_orders(console: Console, p: Principal) -> list[Any]:
    return await list_orders(console, p, list(OPEN_ORDER_STATES))


async def get_order(console: Console, p: Principal, order_id: str) -> Any:
    _may_read(p)
    if not order_id:
        raise InvalidArgumentError("order_id is required")
    reply = await call(
        console.clients.workorders.GetWorkOrder,
        wo_pb.GetWorkOrderRequest(order_id=order_id),
        caller(p),
    )
    ensure_own_order(p, order_id, reply.work_order.department_id)
    return reply.work_order


async def _acting_on(console: Console, p: Principal, order_id: str) -> None:
    """Only the owning department acts; others learn nothing about the order."""
    p.require(Permission.ACT_ON_OWN_ORDERS)
    await get_order(console, p, order_id)


async def accept(console: Console, p: Principal, order_id: str, request_id: str = "") -> Any:
    await _acting_on(console, p, order_id)
    return await call(
        console.clients.workorders.AcceptWorkOrder,
        wo_pb.AcceptWorkOrderRequest(request_id=_rid(request_id), order_id=order_id),
        caller(p),
    )


async def return_order(
    console: Console, p: Principal, order_id: str, reason: str, note: str, request_id: str = ""
) -> Any:
    await _acting_on(console, p, order_id)
    return await call(
        console.clients.workorders.ReturnWorkOrder,
        wo_pb.ReturnWorkOrderRequest(
            request_id=_rid(request_id),
            order_id=order_id,
            reason=enum_value(work_order_pb2.ReturnReason, reason, "return reason"),
            note=note,
        ),
        caller(p),
    )


async def report_progress(
    console: Console,
    p: Principal,
    order_id: str,
    note: str,
    evidence_ids: list[str],
    request_id: str = "",
) -> Any:
    await _acting_on(console, p, order_id)
    if not note.strip() and not evidence_ids:
        raise InvalidArgumentError("a progress report needs a note or evidence")
    return await call(
        console.clients.workorders.ReportProgress,
        wo_pb.ReportProgressRequest(
            request_id=_rid(request_id), order_id=order_id, note=note, evidence_ids=evidence_ids
        ),
        caller(p),
    )


async def request_extension(
    console: Console, p: Principal, order_id: str, hours: int, reason: str, request_id: str = ""
) -> Any:
    await _acting_on(console, p, order_id)
    if not 1 <= hours <= 720:
        raise InvalidArgumentError("requested hours must be between 1 and 720")
    if not reason.strip():
        raise InvalidArgumentError("a reason is required for an extension")
    return await call(
        console.clients.workorders.RequestExtension,
        wo_pb.RequestExtensionRequest(
            request_id=_rid(request_id), order_id=order_id, requested_hours=hours, reason=reason
        ),
        caller(p),
    )


async def upload_evidence(
    console: Console,
    p: Principal,
    order_id: str,
    file_name: str,
    media_type: str,
    content: bytes,
    kind: str,
    request_id: str = "",
) -> Any:
    await _acting_on(console, p, order_id)
    if media_type not in console.options.upload_media_types:
        raise InvalidArgumentError(
            f"media type {media_type!r} not accepted; one of {', '.join(console.options.upload_media_types)}"
        )
    if not content:
        raise InvalidArgumentError("the file is empty")
    if len(content) > console.options.max_upload_bytes:
        raise InvalidArgumentError(
            f"the file is larger than {console.options.max_upload_bytes} bytes"
        )
    return await call(
        console.clients.workorders.UploadEvidence,
        wo_pb.UploadEvidenceRequest(
            request_id=_rid(request_id),
            order_id=order_id,
            file_name=file_name[:200] or "evidence",
            media_type=media_type,
            content=content,
            kind=enum_value(work_order_pb2.EvidenceKind, kind, "evidence kind"),
        ),
        caller(p),
    )


async def complete(
    console: Console, p: Principal, order_id: str, note: str, request_id: str = ""
) -> Any:
    await _acting_on(console, p, order_id)
    return await call(
        console.clients.workorders.CompleteWorkOrder,
        wo_pb.CompleteWorkOrderRequest(request_id=_rid(request_id), order_id=order_id, note=note),
        caller(p),
    )


async def get_evidence(console: Console, p: Principal, order_id: str, evidence_id: str) -> Any:
    """An uploaded file, for the order's department, the centre and auditors (and
    inspectors, who verify with it)."""
    if not p.can(Permission.VERIFY):
        await get_order(console, p, order_id)
    return await call(
        console.clients.workorders.GetEvidence,
        wo_pb.GetEvidenceRequest(order_id=order_id, evidence_id=evidence_id),
        caller(p),
    )
