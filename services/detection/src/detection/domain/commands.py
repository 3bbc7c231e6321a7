"""What a source adapter hands to the service: a report, not yet trusted.

Fields are the source's raw values (strings, numbers); `rules.normalise`
decides whether they make a `Detection`. Every adapter (generic JSON, CAP,
CloudEvents, video-AI vendors, drones, IoT) builds these same commands, so
idempotency, the outbox and tracing are shared by all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from detection.domain.model import ImageRegion, ReportedArea, SensorReading


@dataclass(frozen=True)
class EvidenceInput:
    uri: str
    # None: the source gave no SHA-256 (the evidence is referenced, not pinned);
    # a string must be 64 hex digits.
    sha256: str | None
    media_type: str
    # None: the source did not say.
    size_bytes: int | None
    # CAP 1.2 <digest> (SHA-1 hex), when given.
    sha1: str = ""


@dataclass(frozen=True)
class ReportDetection:
    source_id: str
    source_event_id: str
    source_kind: str
    category_code: str
    latitude: float
    longitude: float
    # ISO 8601 with a zone offset; a zoneless time is ambiguous and refused.
    observed_at: str
    confidence: float
    # sha256 of the bytes the source sent, kept so the original can be proven later.
    raw_payload_sha256: str
    vendor: str = ""
    device_id: str = ""
    description: str = ""
    model_name: str = ""
    model_version: str = ""
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    evidence: tuple[EvidenceInput, ...] = ()
    source_code: str = ""
    component_id: str = ""
    area: ReportedArea | None = None
    region: ImageRegion | None = None
    reading: SensorReading | None = None
    # Idempotency keys of earlier reports this one replaces (CAP Update references).
    supersedes: tuple[str, ...] = ()
    # Record only, never publish (CAP Test/Exercise/System).
    exercise: bool = False


@dataclass(frozen=True)
class CancelDetections:
    """A source withdraws reports it made earlier (CAP msgType Cancel).

    The cancel message has an identity of its own, so posting it twice is one
    cancellation with one answer.
    """

    source_id: str
    source_event_id: str
    # Idempotency keys of the reports cancelled; only this source's own count.
    references: tuple[str, ...]
    reason: str
    # ISO 8601 with a zone offset: when the source sent the cancellation.
    sent: str
    exercise: bool = False


@dataclass(frozen=True)
class ClearAlarm:
    """A device says an alarm it raised has ended (video-AI eventState inactive):
    every active detection of that device under these alarm codes is withdrawn
    as cleared (an ISAPI eventType covers its per-target codes too)."""

    source_id: str
    device_id: str
    source_codes: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RecordTelemetry:
    """A sensor's readings at one instant (MQTT `iot/<device>/telemetry` or HTTP)."""

    device_id: str
    # ISO 8601 with a zone offset.
    observed_at: str
    readings: Mapping[str, float] = field(default_factory=dict)
    raw_payload_sha256: str = ""


@dataclass(frozen=True)
class Skipped:
    """Part of a message deliberately not turned into a detection (a label below
    the vendor's minimum confidence): answered to the source, never stored."""

    item: str
    reason: str


@dataclass(frozen=True)
class SourceMessage:
    """Everything one message from a source asks for, applied in one transaction:
    all of it or (on any refusal) none of it."""

    reports: tuple[ReportDetection, ...] = ()
    cancel: CancelDetections | None = None
    clear: ClearAlarm | None = None
    skipped: tuple[Skipped, ...] = ()
