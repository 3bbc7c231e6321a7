"""Integration events: dispatch's decisions in, the order's events out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2
from workorders.adapters.messages import (
    REASON_TO_PROTO,
    ROLE_TO_PROTO,
    STATE_TO_PROTO,
    evidence_item_message,
    evidence_refs,
    ts,
    work_order_message,
)
from workorders.domain.evidence import EvidenceItem
from workorders.domain.model import (
    Dispatch,
    OrderRole,
    OrderState,
    PendingExtension,
    Place,
    WorkOrder,
)

_DISPATCH_ROLE: dict[int, OrderRole] = {
    dispatch_events.DISPATCH_ROLE_UNSPECIFIED: OrderRole.LEAD,
    dispatch_events.DISPATCH_ROLE_LEAD: OrderRole.LEAD,
    dispatch_events.DISPATCH_ROLE_ASSIST: OrderRole.ASSIST,
}


def dispatch_from_event(msg: dispatch_events.CaseDispatched, traceparent: str) -> Dispatch:
    """A dispatch without a role is a lead dispatch (the contract before joint
    cases), without an attempt the first."""
    place = None
    if msg.HasField("place"):
        point = msg.place.point if msg.place.HasField("point") else None
        place = Place(
            latitude=point.latitude if point else None,
            longitude=point.longitude if point else None,
            district_code=msg.place.district_code,
            street_code=msg.place.street_code,
            grid_code=msg.place.grid_code,
        )
    return Dispatch(
        dispatch_id=msg.dispatch_id,
        case_id=msg.case_id,
        department_id=msg.department_id,
        category_code=msg.category_code,
        title=msg.title,
        place=place,
        deadline=timestamp_or_none(msg, "deadline"),
        case_traceparent=traceparent,
        role=_DISPATCH_ROLE.get(msg.role, OrderRole.LEAD),
        attempt=max(msg.attempt, 1),
        lead_department_id=msg.lead_department_id,
    )


def timestamp_or_none(msg: object, name: str) -> datetime | None:
    """A Timestamp field as an aware datetime, None when unset."""
    if not msg.HasField(name):  # type: ignore[attr-defined]
        return None
    stamp = getattr(msg, name)
    value: datetime = stamp.ToDatetime(tzinfo=UTC)
    return value


def created(order: WorkOrder) -> events_pb2.WorkOrderCreated:
    return events_pb2.WorkOrderCreated(work_order=work_order_message(order))


def accepted(order: WorkOrder, actor: common_pb2.Actor) -> events_pb2.WorkOrderAccepted:
    assert order.accepted_at is not None, "an accepted order has accepted_at"
    return events_pb2.WorkOrderAccepted(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        actor=actor,
        accepted_at=ts(order.accepted_at),
        role=ROLE_TO_PROTO[order.role],
        dispatch_id=order.dispatch_id,
    )


def returned(order: WorkOrder, actor: common_pb2.Actor) -> events_pb2.WorkOrderReturned:
    assert order.returned_at is not None and order.return_reason is not None
    return events_pb2.WorkOrderReturned(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        dispatch_id=order.dispatch_id,
        actor=actor,
        returned_at=ts(order.returned_at),
        reason=REASON_TO_PROTO[order.return_reason],
        note=order.return_note,
        role=ROLE_TO_PROTO[order.role],
    )


def progressed(
    order: WorkOrder, actor: common_pb2.Actor, cited: Sequence[EvidenceItem]
) -> events_pb2.WorkOrderProgressed:
    assert order.progressed_at is not None, "a progressed order has progressed_at"
    return events_pb2.WorkOrderProgressed(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        actor=actor,
        progressed_at=ts(order.progressed_at),
        note=order.progress_note,
        evidence=evidence_refs(item.ref() for item in cited),
        evidence_items=[evidence_item_message(item) for item in cited],
        role=ROLE_TO_PROTO[order.role],
        dispatch_id=order.dispatch_id,
    )


def extension_requested(
    order: WorkOrder, actor: common_pb2.Actor, ext: PendingExtension
) -> events_pb2.WorkOrderExtensionRequested:
    return events_pb2.WorkOrderExtensionRequested(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        dispatch_id=order.dispatch_id,
        extension_id=ext.extension_id,
        actor=actor,
        requested_at=ts(ext.requested_at),
        requested_hours=ext.requested_hours,
        reason=ext.reason,
        role=ROLE_TO_PROTO[order.role],
    )


def completed(
    order: WorkOrder, actor: common_pb2.Actor, uploads: Sequence[EvidenceItem] = ()
) -> events_pb2.WorkOrderCompleted:
    """`evidence` pins every cited file by hash (what the ledger keeps);
    `evidence_items` adds kind, EXIF provenance and flags for the uploads."""
    assert order.completed_at is not None, "a completed order has completed_at"
    return events_pb2.WorkOrderCompleted(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        actor=actor,
        completed_at=ts(order.completed_at),
        note=order.completion_note,
        evidence=evidence_refs(order.evidence),
        evidence_items=[evidence_item_message(item) for item in uploads],
        role=ROLE_TO_PROTO[order.role],
        dispatch_id=order.dispatch_id,
    )


def reopened(order: WorkOrder, verification_id: str) -> events_pb2.WorkOrderReopened:
    assert order.reopened_at is not None, "a reopened order has reopened_at"
    return events_pb2.WorkOrderReopened(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        reopened_at=ts(order.reopened_at),
        reason=order.reopen_reason,
        verification_id=verification_id,
        rework_count=order.rework_count,
        role=ROLE_TO_PROTO[order.role],
        dispatch_id=order.dispatch_id,
    )


def cancelled(
    order: WorkOrder, previous_state: OrderState, superseded_by: str
) -> events_pb2.WorkOrderCancelled:
    assert order.cancelled_at is not None, "a cancelled order has cancelled_at"
    return events_pb2.WorkOrderCancelled(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        dispatch_id=order.dispatch_id,
        cancelled_at=ts(order.cancelled_at),
        reason=order.cancel_reason,
        role=ROLE_TO_PROTO[order.role],
        previous_state=STATE_TO_PROTO[previous_state],
        superseded_by_dispatch_id=superseded_by,
    )
