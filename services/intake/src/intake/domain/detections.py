"""What becomes of one detection: discarded, fused into an open case, or a new case.

The order matters. The policy speaks first: a detection below its review
threshold is too weak even to corroborate, so it is discarded (recorded, with
its reason). Anything else fuses into a matching open case if there is one,
and only otherwise opens a case: FILED at or above the auto threshold, else
TRIAGE. A corroboration that lifts a triage case's fused certainty to the
auto threshold (or is itself auto-file strong) files that case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from intake.domain.commands import FileFromDetection
from intake.domain.fusion import Sighting, add_score, fused_certainty
from intake.domain.model import Case, CaseState, RejectReason
from intake.domain.policy import Action, FusionRule, IntakePolicy, Verdict, judge, score_of
from svckit.reference import Catalogue, Category


class DiscardReason(StrEnum):
    """Mirrors `cityops.intake.v1.DiscardReason`."""

    BELOW_THRESHOLD = "below_threshold"
    UNKNOWN_CATEGORY = "unknown_category"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Discard:
    """A detection recorded without a case, and why (the audit trail of what was ignored)."""

    detection_id: str
    category_code: str
    confidence: float
    threshold: float
    reason: DiscardReason
    note: str
    source_id: str
    source_kind: str
    discarded_at: datetime
    idempotency_key: str = ""


@dataclass(frozen=True)
class Accepted:
    """A detection the policy lets in: its 小类, score and what it would open."""

    category: Category
    verdict: Verdict

    @property
    def opens(self) -> CaseState:
        return CaseState.FILED if self.verdict.action is Action.FILE else CaseState.TRIAGE


def assess(
    cmd: FileFromDetection, catalogue: Catalogue, policy: IntakePolicy, now: datetime
) -> Accepted | Discard:
    """The policy's verdict on a detection, or the discard that records it."""
    category = catalogue.find(cmd.category_code)
    score = score_of(cmd.confidence, cmd.certainty)
    if category is None:
        return _discard(cmd, now, DiscardReason.UNKNOWN_CATEGORY, 0.0, "not in the catalogue")
    verdict = judge(policy, category.code, cmd.source_kind, score)
    if verdict.action is Action.DISCARD:
        why = (
            f"score {score} below review threshold {verdict.threshold}"
            if score is not None
            else f"unscored {cmd.source_kind} detections are discarded by policy"
        )
        return _discard(cmd, now, DiscardReason.BELOW_THRESHOLD, verdict.threshold, why)
    return Accepted(category, verdict)


def withdrawn_before_intake(
    detection_id: str, reason: str, now: datetime, idempotency_key: str = ""
) -> Discard:
    """A tombstone for a detection withdrawn before its report reached intake."""
    return Discard(
        detection_id=detection_id,
        category_code="",
        confidence=0.0,
        threshold=0.0,
        reason=DiscardReason.WITHDRAWN,
        note=reason or "withdrawn by its source before intake saw it",
        source_id="",
        source_kind="",
        discarded_at=now,
        idempotency_key=idempotency_key,
    )


def _discard(
    cmd: FileFromDetection, now: datetime, reason: DiscardReason, threshold: float, note: str
) -> Discard:
    return Discard(
        detection_id=cmd.detection_id,
        category_code=cmd.category_code,
        confidence=cmd.confidence,
        threshold=threshold,
        reason=reason,
        note=note,
        source_id=cmd.source_id,
        source_kind=cmd.source_kind,
        discarded_at=now,
        idempotency_key=cmd.idempotency_key,
    )


def sighting_of(cmd: FileFromDetection, rule: FusionRule, policy: IntakePolicy) -> Sighting:
    """The detection as fusion sees it: 小类, time, point, and the component if known."""
    component = cmd.component_id
    if not component and cmd.device_id and cmd.source_kind in policy.component_device_sources:
        component = f"device:{cmd.device_id}"
    place = cmd.place
    return Sighting(
        category_code=cmd.category_code,
        observed_at=cmd.observed_at,
        latitude=place.latitude if place else None,
        longitude=place.longitude if place else None,
        component_key=component if rule.match_component else "",
    )


def corroborate(case: Case, cmd: FileFromDetection, accepted: Accepted, now: datetime) -> bool:
    """Attach a detection to an open case; returns whether it lifted the case out of triage.

    The case here may be read without its links (the hot path), so only the
    counters and scores change; the link row is the caller's to write.
    """
    case.detection_count += 1
    if add_score(case.source_scores, cmd.source_key, accepted.verdict.score):
        case.certainty = fused_certainty(case.source_scores)
    case.updated_at = now
    if case.state is not CaseState.TRIAGE:
        return False
    strong = accepted.verdict.action is Action.FILE
    if strong or case.certainty >= accepted.verdict.thresholds.auto_file:
        case.state = CaseState.FILED
        return True
    return False


def rescore(case: Case, active_scores: list[tuple[str, float | None]], now: datetime) -> None:
    """Recompute a case's fused certainty from the detections still standing."""
    scores: dict[str, float] = {}
    for source_key, score in active_scores:
        add_score(scores, source_key, score)
    case.source_scores = scores
    case.certainty = fused_certainty(scores)
    case.updated_at = now


def reject_withdrawn(case: Case, now: datetime) -> bool:
    """A triage case whose every detection was cancelled is closed as withdrawn."""
    if case.state is not CaseState.TRIAGE:
        return False
    case.state = CaseState.REJECTED
    case.reject_reason = RejectReason.WITHDRAWN
    case.triage_note = "every detection was withdrawn by its source"
    case.updated_at = now
    return True
