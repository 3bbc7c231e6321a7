"""Reading the event bodies the ledger stores: evaluation's steps, a
dossier's evidence and case facts. Only bodies that still match the digest
their entry commits to are read."""

from __future__ import annotations

from dataclasses import replace

from google.protobuf.message import Message

from audit.adapters.fields import enum_suffix, field, message_field, text, timestamp
from audit.domain.case_history import CaseStep, Step
from audit.domain.dossier import CaseFacts, Evidence
from audit.domain.hashing import payload_sha256
from audit.domain.model import LedgerEntry
from svckit.errors import PermanentError
from svckit.messaging import codec

FILED = "cityops.intake.v1.CaseFiled"
DISPATCHED = "cityops.dispatch.v1.CaseDispatched"
REDISPATCHED = "cityops.dispatch.v1.CaseRedispatched"
STEP_OF_TYPE = {
    FILED: Step.FILED,
    "cityops.intake.v1.CaseRejected": Step.REJECTED,
    "cityops.intake.v1.CaseMerged": Step.MERGED,
    DISPATCHED: Step.DISPATCHED,
    REDISPATCHED: Step.DISPATCHED,
    "cityops.dispatch.v1.ExtensionDecided": Step.EXTENSION_APPROVED,
    "cityops.dispatch.v1.CaseBacklogged": Step.BACKLOGGED,
    "cityops.dispatch.v1.CaseResumed": Step.RESUMED,
    "cityops.workorders.v1.WorkOrderCompleted": Step.COMPLETED,
    "cityops.audit.v1.CaseRework": Step.REWORK,
    "cityops.audit.v1.CaseClosed": Step.CLOSED,
}
EVIDENCE_TYPES = {
    "cityops.detection.v1.DetectionReported": "发现",
    "cityops.workorders.v1.WorkOrderProgressed": "处置进展",
    "cityops.workorders.v1.WorkOrderCompleted": "处置完成",
}


class UnreadableEntryError(ValueError):
    """The entry's body is missing, altered, or of a type this build cannot read."""


def decode(entry: LedgerEntry) -> Message:
    if payload_sha256(entry.payload) != entry.payload_sha256:
        raise UnreadableEntryError(
            f"账本第 {entry.sequence} 条的事件内容与摘要不符（body ≠ digest）"
        )
    try:
        return codec.decode(entry.event_type, entry.payload)
    except PermanentError as exc:
        raise UnreadableEntryError(f"账本第 {entry.sequence} 条无法解析（{exc}）") from exc


def case_step(entry: LedgerEntry) -> CaseStep | None:
    """The evaluation step an entry records, or None when it records none
    (an extension denied). Raises UnreadableEntryError."""
    step = STEP_OF_TYPE.get(entry.event_type)
    if step is None:
        return None
    m = decode(entry)
    base = CaseStep(entry.case_id, step, entry.occurred_at, entry.sequence)
    if step is Step.FILED:
        place = message_field(message_field(m, "case"), "place")
        return replace(base, district_code=text(place, "district_code"))
    if step is Step.DISPATCHED:
        d = message_field(m, "dispatch") if entry.event_type == REDISPATCHED else m
        return replace(
            base,
            department_id=text(d, "department_id"),
            district_code=text(message_field(d, "place"), "district_code"),
            deadline=timestamp(d, "deadline"),
            lead=enum_suffix(d, "role") != "ASSIST",
        )
    if step is Step.EXTENSION_APPROVED:
        if not field(m, "approved"):
            return None
        return replace(base, deadline=timestamp(m, "new_deadline"))
    if step is Step.COMPLETED:
        return replace(base, lead=enum_suffix(m, "role") != "ASSIST")
    if step is Step.CLOSED:
        return replace(base, reason_code=text(m, "reason_code"))
    return base


def evidence(entry: LedgerEntry) -> list[Evidence]:
    """Evidence cited by a detection, a progress report or a completion."""
    stage = EVIDENCE_TYPES.get(entry.event_type)
    if stage is None:
        return []
    m = decode(entry)
    holder = message_field(m, "detection") if "detection" in m.DESCRIPTOR.fields_by_name else m
    return [
        Evidence(entry.sequence, stage, ref.uri, ref.sha256, ref.media_type, ref.size_bytes)
        for ref in (field(holder, "evidence") or ())
    ]


def case_facts(entries: list[LedgerEntry]) -> CaseFacts:
    category = title = district = ""
    departments: list[str] = []
    for entry in entries:
        if entry.event_type == FILED:
            case = message_field(decode(entry), "case")
            category, title = text(case, "category_code"), text(case, "title")
            district = text(message_field(case, "place"), "district_code")
        elif entry.event_type in (DISPATCHED, REDISPATCHED) and entry.department_id:
            departments.append(entry.department_id)
    return CaseFacts(category, title, district, tuple(dict.fromkeys(departments)))
