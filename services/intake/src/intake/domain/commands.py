"""What intake is asked to do, already translated out of protos."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intake.domain.model import Evidence, Place, RejectReason


@dataclass(frozen=True)
class FileFromDetection:
    """A detection reported by a source: filed, queued for triage, fused or discarded."""

    detection_id: str
    source_id: str
    category_code: str
    place: Place | None
    urgency: int
    observed_at: datetime
    idempotency_key: str = ""
    # The source kind as the policy names it: video_ai, drone, iot, inspector, citizen, ...
    source_kind: str = "unspecified"
    device_id: str = ""
    component_id: str = ""
    confidence: float = 0.0
    # CAP certainty as a lowercase word (observed, likely, ...), "" when not given.
    certainty: str = ""
    evidence: tuple[Evidence, ...] = ()
    # A CAP Update names the detection it replaces; it joins that detection's case.
    supersedes_detection_id: str = ""

    @property
    def source_key(self) -> str:
        """The independent witness this detection comes from (for fused certainty)."""
        return self.device_id or self.source_id or self.detection_id


@dataclass(frozen=True)
class WithdrawDetection:
    """The source withdrew a detection: cancelled (it was wrong) or cleared (it ended)."""

    detection_id: str
    idempotency_key: str
    reason: str
    withdrawn_at: datetime
    cancelled: bool


@dataclass(frozen=True)
class FileByHand:
    """An operator, inspector or hotline agent files a case (CreateCase)."""

    request_id: str
    category_code: str
    title: str
    # None when the request carried no point at all.
    latitude: float | None
    longitude: float | None
    urgency: int


@dataclass(frozen=True)
class FileTriaged:
    """An operator files a case waiting in triage (立案)."""

    request_id: str
    case_id: str
    note: str = ""


@dataclass(frozen=True)
class RejectCase:
    """An operator declines to file a case (不予立案)."""

    request_id: str
    case_id: str
    reason: RejectReason | None
    note: str = ""


@dataclass(frozen=True)
class MergeCase:
    """An operator marks a case as a duplicate of another open case."""

    request_id: str
    case_id: str
    duplicate_of: str
    note: str = ""


@dataclass(frozen=True)
class ReclassifyCase:
    """An operator gives a case another 小类."""

    request_id: str
    case_id: str
    category_code: str
    note: str = ""


@dataclass(frozen=True)
class SetUrgency:
    """An operator sets a case's CAP urgency."""

    request_id: str
    case_id: str
    urgency: int
    note: str = ""
