"""Integration events ⇄ audit's domain: what a received event means for the
ledger (`EventFacts`, with its zh-CN summary), and the events audit publishes.

Every stream's events are recorded, including types this module has never
heard of: their actor, department and case are found by field name, and the
summary falls back to the type's short name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from audit.domain.hashing import payload_sha256
from audit.domain.model import CaseRecord, EventFacts, Party, Verification
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import producer_of

CategoryName = Callable[[str], str]
"""小类 code → zh-CN name ("" when unknown)."""

SOURCE_KIND_ZH = {
    detection_pb2.SOURCE_KIND_VIDEO_AI: "视频AI",
    detection_pb2.SOURCE_KIND_DRONE: "无人机",
    detection_pb2.SOURCE_KIND_IOT: "物联网传感器",
    detection_pb2.SOURCE_KIND_INSPECTOR: "巡查员",
    detection_pb2.SOURCE_KIND_CITIZEN: "市民",
}
FIXED_SUMMARIES = {
    workorder_events.WorkOrderAccepted.DESCRIPTOR.full_name: "签收",
    workorder_events.WorkOrderCompleted.DESCRIPTOR.full_name: "处置完成",
    audit_events.CaseVerified.DESCRIPTOR.full_name: "核查通过",
    audit_events.CaseRework.DESCRIPTOR.full_name: "核查不通过，返工",
    audit_events.CaseClosed.DESCRIPTOR.full_name: "结案",
}
ACTOR_FIELDS = ("actor", "verifier", "closed_by")
SUMMARY_MAX = 80


class EventTranslator:
    """Reduces a received event to the facts the ledger and case tracking need."""

    def __init__(self, category_name: CategoryName | None = None) -> None:
        self._category_name = category_name or (lambda _code: "")

    def facts(self, event: IncomingEvent) -> EventFacts:
        message = event.message
        actor = _actor(message)
        detection_id, filed, case_id = "", tuple[str, ...](), event.case_id
        if isinstance(message, detection_events.DetectionReported):
            detection_id, case_id = message.detection.detection_id, ""
        elif isinstance(message, intake_events.CaseFiled):
            filed = tuple(message.case.detection_ids)
            case_id = case_id or message.case.case_id
        return EventFacts(
            event_id=event.id,
            event_type=event.type,
            subject=event.subject,
            producer=producer_of(event.subject),
            case_id=case_id or _field(message, "case_id"),
            occurred_at=event.time,
            summary=_short(self.summary(message)),
            # The decoded body re-serialized deterministically: for svckit producers
            # (no map fields) these are the bytes that were published.
            payload_sha256=payload_sha256(message.SerializeToString(deterministic=True)),
            actor_user_id=actor.user_id if actor else "",
            actor_department_id=actor.department_id if actor else "",
            department_id=_department(message),
            detection_id=detection_id,
            filed_detection_ids=filed,
            completes_work=isinstance(message, workorder_events.WorkOrderCompleted),
            files_case=isinstance(message, intake_events.CaseFiled),
            traceparent=event.traceparent,
        )

    def summary(self, message: Message) -> str:
        """A short zh-CN line an auditor reads on the timeline."""
        name = message.DESCRIPTOR.full_name
        if name in FIXED_SUMMARIES:
            return FIXED_SUMMARIES[name]
        if isinstance(message, detection_events.DetectionReported):
            d = message.detection
            source = SOURCE_KIND_ZH.get(d.source_kind, "未知来源")
            # Not the free-text description: a citizen's words stay out of an immutable ledger.
            return f"发现 {self._category(d.category_code, '')}（{source}）"
        if isinstance(message, intake_events.CaseFiled):
            return f"立案 {self._category(message.case.category_code, message.case.title)}"
        if isinstance(message, dispatch_events.CaseDispatched):
            return f"派遣至 {message.department_id}"
        if isinstance(message, dispatch_events.CaseUnroutable):
            return f"无法派遣：{message.reason}" if message.reason else "无法派遣"
        if isinstance(message, workorder_events.WorkOrderCreated):
            return f"生成工单 {message.work_order.department_id}".rstrip()
        return message.DESCRIPTOR.name

    def _category(self, code: str, fallback: str) -> str:
        return " ".join(part for part in (code, self._category_name(code) or fallback) if part)


def _short(summary: str) -> str:
    """One line on a timeline; the payload digest commits to the full event."""
    line = " ".join(summary.split())
    return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1] + "…"


def _field(message: Message, name: str) -> str:
    """A top-level string field by name, or "" when the type has none."""
    if name in message.DESCRIPTOR.fields_by_name:
        value = getattr(message, name)
        return value if isinstance(value, str) else ""
    return ""


def _actor(message: Message) -> common_pb2.Actor | None:
    for name in ACTOR_FIELDS:
        if name in message.DESCRIPTOR.fields_by_name and message.HasField(name):
            value = getattr(message, name)
            if isinstance(value, common_pb2.Actor):
                return value
    return None


def _department(message: Message) -> str:
    if isinstance(message, workorder_events.WorkOrderCreated):
        return message.work_order.department_id
    if isinstance(message, intake_events.CaseFiled):
        return message.case.lead_department_id
    return _field(message, "department_id")


def actor_proto(party: Party) -> common_pb2.Actor:
    role = getattr(
        common_pb2, f"ACTOR_ROLE_{party.role.upper()}", common_pb2.ACTOR_ROLE_UNSPECIFIED
    )
    return common_pb2.Actor(user_id=party.user_id, department_id=party.department_id, role=role)


def verification_event(v: Verification) -> audit_events.CaseVerified | audit_events.CaseRework:
    """CaseVerified for a passed check, CaseRework (返工) for a failed one."""
    cls = audit_events.CaseVerified if v.passed else audit_events.CaseRework
    return cls(
        case_id=v.case_id,
        verification_id=v.verification_id,
        verifier=actor_proto(v.verifier),
        verified_at=_timestamp(v.verified_at),
        note=v.note,
    )


def closed_event(case: CaseRecord) -> audit_events.CaseClosed:
    """结案, from a case `rules.close` has just closed."""
    assert case.closed_by is not None and case.closed_at is not None
    return audit_events.CaseClosed(
        case_id=case.case_id,
        reason_code=case.reason_code,
        closed_by=actor_proto(case.closed_by),
        closed_at=_timestamp(case.closed_at),
    )


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
