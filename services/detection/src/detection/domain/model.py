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


@dataclass(frozen=True)
class EvidenceRef:
    """A photo or clip held elsewhere, pinned by its hash so it cannot be swapped later."""

    uri: str
    sha256: str
    media_type: str
    size_bytes: int


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
