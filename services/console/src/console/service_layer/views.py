"""What the screens show, assembled from the services' replies (read side only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import ledger_pb2
from cityops.intake.v1 import case_pb2
from console.domain.labels import state_label

CITY_TIME = ZoneInfo("Asia/Shanghai")


def local_time(ts: Timestamp) -> str:
    """City-local time for people; empty when unset."""
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M:%S")


def case_row(case: case_pb2.Case, lang: str) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "title": case.title,
        "category_code": case.category_code,
        "state": case_pb2.CaseState.Name(case.state),
        "state_label": state_label(lang, case.state),
        "district": case.place.district_code,
        "grid": case.place.grid_code,
        "department": case.lead_department_id,
        "deadline": local_time(case.deadline),
        "filed_at": local_time(case.filed_at),
        "trace_id": case.trace_id,
    }


def timeline_row(entry: ledger_pb2.LedgerEntry) -> dict[str, Any]:
    return {
        "sequence": entry.sequence,
        "summary": entry.summary,
        "event_type": entry.event_type,
        "occurred_at": local_time(entry.occurred_at),
        "actor": entry.actor_user_id,
        "department": entry.department_id,
        "trace_id": entry.trace_id,
        "span_id": entry.span_id,
        "entry_hash": entry.entry_hash,
    }


def as_json(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def now_label() -> str:
    return datetime.now(CITY_TIME).strftime("%Y-%m-%d %H:%M:%S")
