"""What the screens show, assembled from the services' replies: plain dicts
for templates and JSON, with names and labels in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import ledger_pb2
from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.workorders.v1 import work_order_pb2
from console.domain import board, states
from console.domain.accounts import Department
from svckit.reference import Catalogue, CityMap, UnknownAreaError

CITY_TIME = ZoneInfo("Asia/Shanghai")
Translate = Callable[[str], str]


@dataclass(frozen=True)
class Reference:
    """Names for codes: 小类, areas, departments."""

    catalogue: Catalogue
    city_map: CityMap
    departments: Mapping[str, Department] = field(default_factory=dict)

    def category_name(self, code: str, lang: str) -> str:
        category = self.catalogue.find(code)
        if category is None:
            return code
        return category.name_en if lang == "en" else category.name_zh

    def area_name(self, code: str, lang: str) -> str:
        if not code:
            return ""
        try:
            area = self.city_map.area(code)
        except UnknownAreaError:
            return code
        return area.name_en if lang == "en" else area.name_zh

    def department_name(self, department_id: str, lang: str) -> str:
        dept = self.departments.get(department_id)
        if dept is None:
            return department_id
        return dept.name_en if lang == "en" else dept.name_zh


def local_time(ts: Timestamp) -> str:
    """City-local time for people; empty when unset."""
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(ts: Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone(CITY_TIME).isoformat()


def seconds_until(ts: Timestamp, now: datetime) -> int | None:
    if not ts.seconds and not ts.nanos:
        return None
    return int((ts.ToDatetime(tzinfo=UTC) - now).total_seconds())


def case_row(
    case: case_pb2.Case, lang: str, ref: Reference, _: Translate, now: datetime
) -> dict[str, Any]:
    state = case_pb2.CaseState.Name(case.state)
    urgency = common_pb2.Urgency.Name(case.urgency)
    remaining = seconds_until(case.deadline, now)
    return {
        "case_id": case.case_id,
        "title": case.title,
        "category_code": case.category_code,
        "category_name": ref.category_name(case.category_code, lang),
        "state": state,
        "state_label": _(states.case_state_label(state)),
        "colour": states.STATE_COLOURS.get(state, "#666666"),
        "urgency": urgency,
        "urgency_label": _(states.URGENCIES[urgency]) if urgency in states.URGENCIES else "",
        "weight": states.URGENCY_WEIGHT.get(urgency, 0),
        "district": case.place.district_code,
        "district_name": ref.area_name(case.place.district_code, lang),
        "street_name": ref.area_name(case.place.street_code, lang),
        "grid": case.place.grid_code,
        "latitude": case.place.point.latitude,
        "longitude": case.place.point.longitude,
        "department": case.lead_department_id,
        "department_name": ref.department_name(case.lead_department_id, lang),
        "assist_departments": [ref.department_name(d, lang) for d in case.assist_department_ids],
        "deadline": local_time(case.deadline),
        "deadline_iso": iso_time(case.deadline),
        "remaining_seconds": remaining,
        "overdue": bool(
            remaining is not None and remaining < 0 and state not in states.FINAL_CASE_STATES
        ),
        "filed_at": local_time(case.filed_at),
        "updated_at": local_time(case.updated_at),
        "trace_id": case.trace_id,
        "certainty": round(case.certainty, 3),
        "detection_count": case.detection_count or len(case.detection_ids),
        "escalation_level": case.escalation_level,
        "arbitration_requested": case.arbitration_requested,
        "duplicate_of": case.duplicate_of,
        "triage_note": case.triage_note,
        "final": state in states.FINAL_CASE_STATES,
    }


def evidence_row(ref: common_pb2.EvidenceRef) -> dict[str, Any]:
    return {
        "uri": ref.uri,
        "sha256": ref.sha256,
        "media_type": ref.media_type,
        "is_image": ref.media_type.startswith("image/"),
        # Only web addresses can be shown directly; object-store files go through the console.
        "viewable": ref.uri.startswith(("http://", "https://")),
    }


def evidence_item_row(item: work_order_pb2.EvidenceItem) -> dict[str, Any]:
    return {
        "evidence_id": item.evidence_id,
        "order_id": item.order_id,
        "file_name": item.file_name,
        "kind": work_order_pb2.EvidenceKind.Name(item.kind),
        "media_type": item.ref.media_type,
        "is_image": item.ref.media_type.startswith("image/"),
        "sha256": item.ref.sha256,
        "uploaded_at": local_time(item.uploaded_at),
        "uploaded_by": item.uploaded_by,
        "captured_at": local_time(item.captured_at),
        "flags": [{"code": f.code, "detail": f.detail} for f in item.flags],
        "url": f"/api/orders/{item.order_id}/evidence/{item.evidence_id}",
    }


def order_row(
    order: work_order_pb2.WorkOrder,
    lang: str,
    ref: Reference,
    _: Translate,
    now: datetime,
    at_risk_seconds: int,
) -> dict[str, Any]:
    state = work_order_pb2.WorkOrderState.Name(order.state)
    remaining = (
        order.remaining_seconds
        if order.HasField("remaining_seconds")
        else seconds_until(order.deadline, now)
    )
    working = (
        order.remaining_working_seconds if order.HasField("remaining_working_seconds") else None
    )
    open_order = state in states.OPEN_ORDER_STATES
    risk = (
        board.classify(remaining, order.escalation_level, at_risk_seconds)
        if open_order
        else board.Risk.NO_DEADLINE
    )
    return {
        "order_id": order.order_id,
        "case_id": order.case_id,
        "department_id": order.department_id,
        "department_name": ref.department_name(order.department_id, lang),
        "state": state,
        "state_label": _(states.order_state_label(state)),
        "open": open_order,
        "role": work_order_pb2.OrderRole.Name(order.role),
        "title": order.title,
        "category_code": order.category_code,
        "category_name": ref.category_name(order.category_code, lang),
        "district_name": ref.area_name(order.place.district_code, lang),
        "created_at": local_time(order.created_at),
        "accepted_at": local_time(order.accepted_at),
        "completed_at": local_time(order.completed_at),
        "deadline": local_time(order.deadline),
        "deadline_iso": iso_time(order.deadline),
        "remaining_seconds": remaining if open_order else None,
        "countdown": board.countdown(remaining) if open_order else "",
        "remaining_working_seconds": working if open_order else None,
        "working_left": board.working_hours(working) if open_order else "",
        "risk": risk.value,
        "escalation_level": order.escalation_level,
        "completion_note": order.completion_note,
        "progress_note": order.progress_note,
        "return_reason": work_order_pb2.ReturnReason.Name(order.return_reason)
        if order.return_reason
        else "",
        "return_note": order.return_note,
        "reopen_reason": order.reopen_reason,
        "rework_count": order.rework_count,
        "pending_extension": (
            {
                "extension_id": order.pending_extension.extension_id,
                "hours": order.pending_extension.requested_hours,
                "reason": order.pending_extension.reason,
            }
            if order.pending_extension.extension_id
            else None
        ),
        "evidence": [evidence_row(e) for e in order.evidence],
        "evidence_items": [evidence_item_row(i) for i in order.evidence_items],
    }


def timeline_row(entry: ledger_pb2.LedgerEntry, trace_url: str) -> dict[str, Any]:
    return {
        "sequence": entry.sequence,
        "summary": entry.summary,
        "event_type": entry.event_type,
        "kind": entry.event_type.rsplit(".", 1)[-1],
        "producer": entry.producer,
        "occurred_at": local_time(entry.occurred_at),
        "actor": entry.actor_user_id,
        "department": entry.department_id,
        "trace_id": entry.trace_id,
        "trace_url": trace_url.format(trace_id=entry.trace_id)
        if trace_url and entry.trace_id
        else "",
        "span_id": entry.span_id,
        "entry_hash": entry.entry_hash,
        "leaf_hash": entry.leaf_hash,
    }


def detection_row(detection: Any) -> dict[str, Any]:
    """A fused detection as the case page lists it."""
    kind = detection.DESCRIPTOR.fields_by_name["source_kind"].enum_type.values_by_number.get(
        detection.source_kind
    )
    return {
        "detection_id": detection.detection_id,
        "source": " ".join(
            p
            for p in (
                kind.name.removeprefix("SOURCE_KIND_").lower()
                if kind and detection.source_kind
                else "",
                detection.source_id,
                detection.vendor,
            )
            if p
        ),
        "model": " ".join(p for p in (detection.model_name, detection.model_version) if p),
        "observed_at": local_time(detection.observed_at),
        "confidence": f"{detection.confidence:.2f}" if detection.confidence else "—",
    }


def as_json(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def now_label(now: datetime) -> str:
    return now.astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M:%S")
