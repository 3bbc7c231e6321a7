"""Domain → protobuf for the WorkOrder and EvidenceItem messages, and the enum
tables both ways. One mapping for events and gRPC responses, so an order looks
the same to a subscriber and to a caller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.workorders.v1 import work_order_pb2 as wo
from svckit.calendars import DepartmentCalendars
from workorders.domain.evidence import EvidenceItem, EvidenceKind
from workorders.domain.model import Evidence, OrderRole, OrderState, Place, WorkOrder
from workorders.domain.rules import ReturnReason

STATE_TO_PROTO: dict[OrderState, wo.WorkOrderState.ValueType] = {
    OrderState.CREATED: wo.WORK_ORDER_STATE_CREATED,
    OrderState.ACCEPTED: wo.WORK_ORDER_STATE_ACCEPTED,
    OrderState.IN_PROGRESS: wo.WORK_ORDER_STATE_IN_PROGRESS,
    OrderState.COMPLETED: wo.WORK_ORDER_STATE_COMPLETED,
    OrderState.RETURNED: wo.WORK_ORDER_STATE_RETURNED,
    OrderState.EXTENSION_REQUESTED: wo.WORK_ORDER_STATE_EXTENSION_REQUESTED,
    OrderState.REOPENED: wo.WORK_ORDER_STATE_REOPENED,
    OrderState.CANCELLED: wo.WORK_ORDER_STATE_CANCELLED,
}
STATE_FROM_PROTO = {value: state for state, value in STATE_TO_PROTO.items()}

ROLE_TO_PROTO: dict[OrderRole, wo.OrderRole.ValueType] = {
    OrderRole.LEAD: wo.ORDER_ROLE_LEAD,
    OrderRole.ASSIST: wo.ORDER_ROLE_ASSIST,
}

REASON_TO_PROTO: dict[ReturnReason, wo.ReturnReason.ValueType] = {
    ReturnReason.OUTSIDE_JURISDICTION: wo.RETURN_REASON_OUTSIDE_JURISDICTION,
    ReturnReason.WRONG_CATEGORY: wo.RETURN_REASON_WRONG_CATEGORY,
    ReturnReason.DUPLICATE: wo.RETURN_REASON_DUPLICATE,
    ReturnReason.CANNOT_LOCATE: wo.RETURN_REASON_CANNOT_LOCATE,
    ReturnReason.OTHER: wo.RETURN_REASON_OTHER,
}
REASON_FROM_PROTO = {value: reason for reason, value in REASON_TO_PROTO.items()}

KIND_TO_PROTO: dict[EvidenceKind, wo.EvidenceKind.ValueType] = {
    EvidenceKind.BEFORE_PHOTO: wo.EVIDENCE_KIND_BEFORE_PHOTO,
    EvidenceKind.AFTER_PHOTO: wo.EVIDENCE_KIND_AFTER_PHOTO,
    EvidenceKind.OTHER: wo.EVIDENCE_KIND_OTHER,
}
KIND_FROM_PROTO = {value: kind for kind, value in KIND_TO_PROTO.items()}


def work_order_message(
    order: WorkOrder,
    items: Sequence[EvidenceItem] = (),
    *,
    now: datetime | None = None,
    calendars: DepartmentCalendars | None = None,
) -> wo.WorkOrder:
    """The order as callers and subscribers see it; `now` (responses only)
    sets remaining_seconds, which would be stale in an event log, and with
    `calendars` remaining_working_seconds on the department's calendar."""
    msg = wo.WorkOrder(
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        state=STATE_TO_PROTO[order.state],
        category_code=order.category_code,
        title=order.title,
        created_at=ts(order.created_at),
        completion_note=order.completion_note,
        evidence=evidence_refs(order.evidence),
        dispatch_id=order.dispatch_id,
        role=ROLE_TO_PROTO[order.role],
        attempt=order.attempt,
        escalation_level=order.escalation_level,
        evidence_items=[evidence_item_message(item) for item in items],
        return_note=order.return_note,
        reopen_reason=order.reopen_reason,
        rework_count=order.rework_count,
        progress_note=order.progress_note,
        cancel_reason=order.cancel_reason,
        lead_department_id=order.lead_department_id,
    )
    if order.place is not None:
        msg.place.CopyFrom(place_message(order.place))
    if order.return_reason is not None:
        msg.return_reason = REASON_TO_PROTO[order.return_reason]
    if order.extension is not None:
        ext = order.extension
        msg.pending_extension.CopyFrom(
            wo.ExtensionRequest(
                extension_id=ext.extension_id,
                requested_hours=ext.requested_hours,
                reason=ext.reason,
                requested_at=ts(ext.requested_at),
            )
        )
    remaining = order.remaining(now) if now is not None else None
    if now is not None and remaining is not None:
        msg.remaining_seconds = _seconds(remaining)
        if calendars is not None:
            calendar = calendars.for_department(order.department_id)
            working = order.remaining_working(now, calendar)
            if working is not None:
                msg.remaining_working_seconds = _seconds(working)
    for name in (
        "deadline",
        "accepted_at",
        "completed_at",
        "escalated_at",
        "returned_at",
        "reopened_at",
        "progressed_at",
        "cancelled_at",
    ):
        when: datetime | None = getattr(order, name)
        if when is not None:
            getattr(msg, name).CopyFrom(ts(when))
    return msg


def evidence_item_message(item: EvidenceItem) -> wo.EvidenceItem:
    msg = wo.EvidenceItem(
        evidence_id=item.evidence_id,
        order_id=item.order_id,
        ref=evidence_refs([item.ref()])[0],
        kind=KIND_TO_PROTO[item.kind],
        file_name=item.file_name,
        uploaded_at=ts(item.uploaded_at),
        uploaded_by=item.uploaded_by,
        flags=[wo.EvidenceFlag(code=f.code.value, detail=f.detail) for f in item.flags],
    )
    meta = item.metadata
    if meta.captured_at is not None:
        msg.captured_at.CopyFrom(ts(meta.captured_at))
    if meta.latitude is not None and meta.longitude is not None:
        msg.captured_point.CopyFrom(
            common_pb2.GeoPoint(latitude=meta.latitude, longitude=meta.longitude)
        )
    return msg


def evidence_refs(items: Iterable[Evidence]) -> list[common_pb2.EvidenceRef]:
    return [
        common_pb2.EvidenceRef(
            uri=e.uri, sha256=e.sha256, media_type=e.media_type, size_bytes=e.size_bytes
        )
        for e in items
    ]


def evidence_from_proto(refs: Iterable[common_pb2.EvidenceRef]) -> tuple[Evidence, ...]:
    return tuple(Evidence(r.uri, r.sha256, r.media_type, r.size_bytes) for r in refs)


def ts(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def place_message(place: Place) -> common_pb2.Place:
    msg = common_pb2.Place(
        district_code=place.district_code,
        street_code=place.street_code,
        grid_code=place.grid_code,
    )
    if place.latitude is not None and place.longitude is not None:
        msg.point.CopyFrom(common_pb2.GeoPoint(latitude=place.latitude, longitude=place.longitude))
    return msg


def _seconds(duration: timedelta) -> int:
    """Whole seconds, truncated toward zero (a second not yet over is not counted)."""
    return int(duration.total_seconds())
