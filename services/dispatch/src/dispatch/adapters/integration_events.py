"""Dispatch records → the events other services consume (cityops.dispatch.v1)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.dispatch.v1 import events_pb2
from cityops.intake.v1 import case_pb2
from dispatch.domain.model import DispatchRecord


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def case_dispatched(record: DispatchRecord, case: case_pb2.Case) -> events_pb2.CaseDispatched:
    """派遣: the case as filed (title, place, urgency) plus where it went and by when.

    Workorders builds its work order from this alone, so it carries everything
    the department needs to see without asking intake.
    """
    assert record.deadline is not None, "only dispatched records have a deadline"
    event = events_pb2.CaseDispatched(
        case_id=record.case_id,
        dispatch_id=record.dispatch_id,
        department_id=record.department_id,
        category_code=record.category_code,
        title=case.title,
        urgency=case.urgency,
        dispatched_at=timestamp(record.decided_at),
        deadline=timestamp(record.deadline),
        rule_id=record.rule_id,
        rule_version=record.rule_version,
    )
    event.place.CopyFrom(case.place)
    event.place.district_code = record.district_code
    return event


def case_unroutable(record: DispatchRecord) -> events_pb2.CaseUnroutable:
    """No rule covers the case: the operations centre must dispatch it by hand."""
    return events_pb2.CaseUnroutable(
        case_id=record.case_id, category_code=record.category_code, reason=record.reason
    )
