"""The normalised detection: what the rest of CityOps sees of any source's report.

Vendor payloads stop at the adapters; past this point every report has the
same shape, resolved to a catalogue 小类 and a grid, with times in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SourceKind(StrEnum):
    """Which kind of source saw the problem (weights trust and triage later)."""

    VIDEO_AI = "video_ai"
    DRONE = "drone"
    IOT = "iot"
    INSPECTOR = "inspector"
    CITIZEN = "citizen"


class Urgency(StrEnum):
    """CAP 1.2 `urgency`; values are the CAP words so alerts map without a table."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    """CAP 1.2 `severity`."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    """CAP 1.2 `certainty`."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Place:
    """The reported point and the city units it lies in (grid → street → district)."""

    latitude: float
    longitude: float
    district_code: str
    street_code: str
    grid_code: str


class DetectionStatus(StrEnum):
    """Whether a detection still stands. Only an active one can be withdrawn or superseded."""

    ACTIVE = "active"
    # The source cancelled it, or the condition it reported ended (see `WithdrawalKind`).
    WITHDRAWN = "withdrawn"
    # A later report from the same source replaced it (CAP Update).
    SUPERSEDED = "superseded"


class WithdrawalKind(StrEnum):
    """Why a detection was withdrawn: intake treats a cancelled report (it was
    wrong) differently from a cleared alarm (the problem may still need fixing)."""

    CANCELLED = "cancelled"
    CLEARED = "cleared"


@dataclass(frozen=True)
class EvidenceRef:
    """A photo or clip held elsewhere, pinned by its hash so it cannot be swapped later.

    `sha256` is "" when the source gave no SHA-256 (a camera's picture URL, a CAP
    resource with only a SHA-1 `digest`): such evidence is referenced but not yet
    pinned. `size_bytes` is 0 when the source did not say.
    """

    uri: str
    sha256: str
    media_type: str
    size_bytes: int
    # The CAP 1.2 <digest> (SHA-1, lowercase hex) when the source gave one.
    sha1: str = ""


@dataclass(frozen=True)
class Circle:
    """A CAP circle: centre and radius in metres."""

    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True)
class Geocode:
    """A coded area: `value_name` names the scheme (e.g. GB2260), `value` the code."""

    value_name: str
    value: str


@dataclass(frozen=True)
class ReportedArea:
    """The area a source reported, kept as reported beside the point derived from it.

    Polygons are rings of (latitude, longitude) pairs, first equal to last.
    """

    description: str = ""
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[Geocode, ...] = ()


@dataclass(frozen=True)
class ImageRegion:
    """Where the target is in the evidence image, as fractions of its size (origin top-left)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class SensorReading:
    """The reading that crossed its threshold, kept so an operator sees how far."""

    metric: str
    value: float
    unit: str
    threshold: float


@dataclass(frozen=True)
class Detection:
    """One accepted report. `idempotency_key` makes a re-sent alarm the same detection."""

    detection_id: str
    idempotency_key: str
    source_kind: SourceKind
    source_id: str
    source_event_id: str
    observed_at: datetime
    received_at: datetime
    place: Place
    category_code: str
    confidence: float
    raw_payload_sha256: str
    vendor: str = ""
    device_id: str = ""
    description: str = ""
    model_name: str = ""
    model_version: str = ""
    # None: the source did not say (distinct from CAP "Unknown", which it said).
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    evidence: tuple[EvidenceRef, ...] = ()
    # The source's own code (CAP event, vendor alarm type, AI label, sensor metric).
    source_code: str = ""
    component_id: str = ""
    supersedes_detection_id: str = ""
    area: ReportedArea | None = None
    region: ImageRegion | None = None
    reading: SensorReading | None = None
    # CAP status Test/Exercise/System: recorded so the drill is on file, never published.
    exercise: bool = False
    status: DetectionStatus = DetectionStatus.ACTIVE
    withdrawn_at: datetime | None = None
    withdrawal_kind: WithdrawalKind | None = None
    withdrawal_reason: str = ""

    @property
    def published(self) -> bool:
        """Whether the rest of CityOps heard of it (exercises stay here)."""
        return not self.exercise
