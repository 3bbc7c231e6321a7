"""Integration events ⇄ audit's domain: what a received event means for the
ledger (`EventFacts`, with its zh-CN summary), and the events audit publishes.

Every stream's events are recorded, including types this module has never
heard of: their actor, department and case are found by field name, and the
summary falls back to the type's short name.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from audit.adapters.fields import field, message_field, number, text, timestamp
from audit.adapters.summaries import CategoryName, Summaries
from audit.domain.hashing import payload_sha256
from audit.domain.model import (
    CaseEffect,
    CasePlace,
    CaseRecord,
    EventFacts,
    FreshLook,
    Party,
    Verification,
)
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import producer_of

__all__ = ["CategoryName", "EventTranslator"]

ACTOR_FIELDS = (
    "actor",
    "verifier",
    "closed_by",
    "decided_by",
    "filed_by",
    "rejected_by",
    "merged_by",
    "reclassified_by",
    "changed_by",
)
SUMMARY_MAX = 80
EFFECTS = {
    "cityops.intake.v1.CaseFiled": CaseEffect.FILED,
    "cityops.workorders.v1.WorkOrderCompleted": CaseEffect.COMPLETED,
    "cityops.intake.v1.CaseRejected": CaseEffect.REJECTED,
    "cityops.intake.v1.CaseMerged": CaseEffect.MERGED,
    "cityops.dispatch.v1.CaseBacklogged": CaseEffect.BACKLOGGED,
    "cityops.dispatch.v1.CaseResumed": CaseEffect.RESUMED,
    "cityops.dispatch.v1.CaseDispatched": CaseEffect.DISPATCHED,
    "cityops.dispatch.v1.CaseRedispatched": CaseEffect.DISPATCHED,
}
PLACING = frozenset({"cityops.intake.v1.CaseFiled", "cityops.intake.v1.CaseReclassified"})
REPORTED = "cityops.detection.v1.DetectionReported"
WITHDRAWN = "cityops.detection.v1.DetectionWithdrawn"
# Events that put a detection on a case's timeline.
LINKING = {
    "cityops.intake.v1.CaseFiled": lambda m: tuple(
        field(message_field(m, "case"), "detection_ids")
    ),
    "cityops.intake.v1.CaseCorroborated": lambda m: (text(m, "detection_id"),),
}


class EventTranslator:
    """Reduces a received event to the facts the ledger and case tracking need."""

    def __init__(self, category_name: CategoryName | None = None) -> None:
        self.summary = Summaries(category_name)

    def facts(self, event: IncomingEvent, body: bytes | None = None) -> EventFacts:
        """`body` is the event body as received; without it the decoded message
        is re-serialized deterministically (for svckit producers, which use no
        map fields, the same bytes)."""
        message = event.message
        name = message.DESCRIPTOR.full_name
        actor = _actor(message)
        payload = body if body is not None else message.SerializeToString(deterministic=True)
        look = _look(message, event.time)
        link = LINKING.get(name)
        return EventFacts(
            event_id=event.id,
            event_type=event.type,
            subject=event.subject,
            producer=producer_of(event.subject),
            case_id="" if look else (event.case_id or _case_id(message)),
            occurred_at=event.time,
            summary=_short(self.summary(message)),
            payload_sha256=payload_sha256(payload),
            actor_user_id=actor.user_id if actor else "",
            actor_department_id=actor.department_id if actor else "",
            department_id=_department(message),
            detection_id=look.detection_id if look else "",
            filed_detection_ids=tuple(d for d in link(message) if d) if link else (),
            effect=EFFECTS.get(name, CaseEffect.NONE),
            traceparent=event.traceparent,
            payload=payload,
            place=_place(message),
            look=look,
        )


def detections_named(message: Message) -> tuple[str, tuple[str, ...]]:
    """The detection a message reports or withdraws, and those it puts on a
    case's timeline: what a batch's preload reads (`prepare_batch`)."""
    name = message.DESCRIPTOR.full_name
    looked = ""
    if name == WITHDRAWN:
        looked = text(message, "detection_id")
    elif name == REPORTED:
        looked = text(message_field(message, "detection"), "detection_id")
    link = LINKING.get(name)
    return looked, tuple(d for d in link(message) if d) if link else ()


def _short(summary: str) -> str:
    """One line on a timeline; the payload digest commits to the full event."""
    line = " ".join(summary.split())
    return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1] + "…"


def _case_id(message: Message) -> str:
    for holder in (message, message_field(message, "case"), message_field(message, "dispatch")):
        if text(holder, "case_id"):
            return text(holder, "case_id")
    return text(message_field(message, "work_order"), "case_id")


def _actor(message: Message) -> common_pb2.Actor | None:
    for name in ACTOR_FIELDS:
        value = message_field(message, name)
        if isinstance(value, common_pb2.Actor):
            return value
    return None


def _department(message: Message) -> str:
    for holder in (message_field(message, "work_order"), message_field(message, "dispatch")):
        if text(holder, "department_id"):
            return text(holder, "department_id")
    return text(message_field(message, "case"), "lead_department_id") or text(
        message, "department_id"
    )


def _place(message: Message) -> CasePlace | None:
    """What and where a case is, from a filing or a reclassification."""
    if message.DESCRIPTOR.full_name not in PLACING:
        return None
    case = message_field(message, "case")
    if case is None or not text(case, "category_code"):
        return None
    place = message_field(case, "place")
    point = message_field(place, "point")
    return CasePlace(
        category_code=text(case, "category_code"),
        latitude=number(point, "latitude") if point is not None else None,
        longitude=number(point, "longitude") if point is not None else None,
        district_code=text(place, "district_code"),
    )


def _look(message: Message, at: datetime) -> FreshLook | None:
    """A detection or a withdrawal, as machine verification reads it."""
    name = message.DESCRIPTOR.full_name
    if name == WITHDRAWN:
        when = timestamp(message, "withdrawn_at") or at
        return FreshLook(detection_id=text(message, "detection_id"), at=when, absent=True)
    if name != REPORTED:
        return None
    d = message_field(message, "detection")
    point = message_field(message_field(d, "place"), "point")
    return FreshLook(
        detection_id=text(d, "detection_id"),
        at=timestamp(d, "observed_at") or at,
        source_id=text(d, "source_id"),
        device_id=text(d, "device_id"),
        component_id=text(d, "component_id"),
        category_code=text(d, "category_code"),
        latitude=number(point, "latitude") if point is not None else None,
        longitude=number(point, "longitude") if point is not None else None,
        confidence=number(d, "confidence"),
        absent=field(d, "active") is False,
    )


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
        machine_verified=v.machine_verified,
        detection_id=v.detection_id,
    )


def closed_event(case: CaseRecord) -> audit_events.CaseClosed:
    """结案, from a case `rules.close` has just closed."""
    assert case.closed_by is not None and case.closed_at is not None
    return audit_events.CaseClosed(
        case_id=case.case_id,
        reason_code=case.reason_code,
        closed_by=actor_proto(case.closed_by),
        closed_at=_timestamp(case.closed_at),
        machine_verified=case.machine_verified,
    )


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
