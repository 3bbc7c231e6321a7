"""Intake's domain → its protos: cases, and the events intake publishes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2, events_pb2, intake_service_pb2
from intake.domain.detections import Discard, DiscardReason
from intake.domain.model import Case, CaseState, Place, RejectReason
from svckit.grpc.identity import Caller

STATE_TO_PROTO: dict[CaseState, case_pb2.CaseState.ValueType] = {
    CaseState.TRIAGE: case_pb2.CASE_STATE_TRIAGE,
    CaseState.FILED: case_pb2.CASE_STATE_FILED,
    CaseState.REJECTED: case_pb2.CASE_STATE_REJECTED,
    CaseState.MERGED: case_pb2.CASE_STATE_MERGED,
    CaseState.DISPATCHED: case_pb2.CASE_STATE_DISPATCHED,
    CaseState.UNROUTABLE: case_pb2.CASE_STATE_UNROUTABLE,
    CaseState.ACCEPTED: case_pb2.CASE_STATE_ACCEPTED,
    CaseState.COMPLETED: case_pb2.CASE_STATE_COMPLETED,
    CaseState.VERIFIED: case_pb2.CASE_STATE_VERIFIED,
    CaseState.REWORK: case_pb2.CASE_STATE_REWORK,
    CaseState.CLOSED: case_pb2.CASE_STATE_CLOSED,
    CaseState.IN_PROGRESS: case_pb2.CASE_STATE_IN_PROGRESS,
    CaseState.RETURNED: case_pb2.CASE_STATE_RETURNED,
    CaseState.BACKLOGGED: case_pb2.CASE_STATE_BACKLOGGED,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}

REASON_TO_PROTO: dict[RejectReason, case_pb2.RejectReason.ValueType] = {
    RejectReason.NOT_IN_SCOPE: case_pb2.REJECT_REASON_NOT_IN_SCOPE,
    RejectReason.DUPLICATE: case_pb2.REJECT_REASON_DUPLICATE,
    RejectReason.INSUFFICIENT_EVIDENCE: case_pb2.REJECT_REASON_INSUFFICIENT_EVIDENCE,
    RejectReason.FALSE_ALARM: case_pb2.REJECT_REASON_FALSE_ALARM,
    RejectReason.WITHDRAWN: case_pb2.REJECT_REASON_WITHDRAWN,
    RejectReason.OTHER: case_pb2.REJECT_REASON_OTHER,
}
REASON_FROM_PROTO = {v: k for k, v in REASON_TO_PROTO.items()}

DISCARD_TO_PROTO: dict[DiscardReason, events_pb2.DiscardReason.ValueType] = {
    DiscardReason.BELOW_THRESHOLD: events_pb2.DISCARD_REASON_BELOW_THRESHOLD,
    DiscardReason.UNKNOWN_CATEGORY: events_pb2.DISCARD_REASON_UNKNOWN_CATEGORY,
    DiscardReason.WITHDRAWN: events_pb2.DISCARD_REASON_WITHDRAWN,
}

SYSTEM = common_pb2.Actor(user_id="intake", role=common_pb2.ACTOR_ROLE_SYSTEM)
"""The actor of decisions intake takes itself (a triage case whose detections were withdrawn)."""


def timestamp(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def actor(caller: Caller | None) -> common_pb2.Actor:
    return caller.to_actor() if caller else SYSTEM


def place_to_proto(place: Place) -> common_pb2.Place:
    return common_pb2.Place(
        point=common_pb2.GeoPoint(latitude=place.latitude, longitude=place.longitude),
        district_code=place.district_code,
        street_code=place.street_code,
        grid_code=place.grid_code,
    )


def case_to_proto(case: Case) -> case_pb2.Case:
    return case_pb2.Case(
        case_id=case.case_id,
        category_code=case.category_code,
        title=case.title,
        place=place_to_proto(case.place),
        urgency=case.urgency,  # type: ignore[arg-type]  # CAP number kept as is
        state=STATE_TO_PROTO[case.state],
        filed_at=timestamp(case.filed_at),
        updated_at=timestamp(case.updated_at),
        detection_ids=case.detection_ids,
        lead_department_id=case.lead_department_id,
        deadline=timestamp(case.deadline),
        trace_id=case.trace_id,
        certainty=case.certainty,
        detection_count=case.detection_count,
        evidence=[
            common_pb2.EvidenceRef(
                uri=e.uri, sha256=e.sha256, media_type=e.media_type, size_bytes=e.size_bytes
            )
            for e in case.evidence
        ],
        withdrawn_detection_ids=case.withdrawn_detection_ids,
        escalation_level=case.escalation_level,
        arbitration_requested=case.arbitration_requested,
        assist_department_ids=case.assist_department_ids,
        reject_reason=REASON_TO_PROTO[case.reject_reason] if case.reject_reason else 0,  # type: ignore[arg-type]
        duplicate_of=case.duplicate_of,
        triage_note=case.triage_note,
    )


def case_filed(case: Case, caller: Caller | None = None) -> events_pb2.CaseFiled:
    """CaseFiled; automatic filing names no actor, a person's filing names them."""
    event = events_pb2.CaseFiled(case=case_to_proto(case))
    if caller is not None:
        event.filed_by.CopyFrom(caller.to_actor())
    return event


def _discard_fields(discard: Discard) -> dict[str, Any]:
    return {
        "detection_id": discard.detection_id,
        "category_code": discard.category_code,
        "confidence": discard.confidence,
        "threshold": discard.threshold,
        "reason": DISCARD_TO_PROTO[discard.reason],
        "note": discard.note,
        "source_id": discard.source_id,
        "source_kind": discard.source_kind,
        "discarded_at": timestamp(discard.discarded_at),
    }


def discarded(discard: Discard) -> events_pb2.DetectionDiscarded:
    return events_pb2.DetectionDiscarded(**_discard_fields(discard))


def discard_to_proto(discard: Discard) -> intake_service_pb2.DiscardedDetection:
    return intake_service_pb2.DiscardedDetection(**_discard_fields(discard))


def corroborated(
    case: Case, detection_id: str, source_id: str, at: datetime
) -> events_pb2.CaseCorroborated:
    return events_pb2.CaseCorroborated(
        case_id=case.case_id,
        detection_id=detection_id,
        detection_count=case.detection_count,
        certainty=case.certainty,
        source_id=source_id,
        corroborated_at=timestamp(at),
        state=STATE_TO_PROTO[case.state],
    )


def rejected(case: Case, before: CaseState, caller: Caller | None) -> events_pb2.CaseRejected:
    assert case.reject_reason is not None
    return events_pb2.CaseRejected(
        case_id=case.case_id,
        reason=REASON_TO_PROTO[case.reject_reason],
        note=case.triage_note,
        rejected_by=actor(caller),
        rejected_at=timestamp(case.updated_at),
        previous_state=STATE_TO_PROTO[before],
    )


def merged(
    case: Case, moved: list[str], before: CaseState, caller: Caller
) -> events_pb2.CaseMerged:
    return events_pb2.CaseMerged(
        case_id=case.case_id,
        duplicate_of=case.duplicate_of,
        detection_ids=moved,
        note=case.triage_note,
        merged_by=actor(caller),
        merged_at=timestamp(case.updated_at),
        previous_state=STATE_TO_PROTO[before],
    )


def reclassified(case: Case, old_code: str, caller: Caller) -> events_pb2.CaseReclassified:
    return events_pb2.CaseReclassified(
        case_id=case.case_id,
        old_category_code=old_code,
        new_category_code=case.category_code,
        case=case_to_proto(case),
        note=case.triage_note,
        reclassified_by=actor(caller),
        reclassified_at=timestamp(case.updated_at),
    )


def urgency_changed(
    case: Case, old: int, note: str, caller: Caller
) -> events_pb2.CaseUrgencyChanged:
    return events_pb2.CaseUrgencyChanged(
        case_id=case.case_id,
        old_urgency=old,  # type: ignore[arg-type]
        new_urgency=case.urgency,  # type: ignore[arg-type]
        note=note,
        changed_by=actor(caller),
        changed_at=timestamp(case.updated_at),
    )
