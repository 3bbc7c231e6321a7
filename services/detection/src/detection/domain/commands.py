"""What a source adapter hands to the service: a report, not yet trusted.

Fields are the source's raw values (strings, numbers); `rules.normalise`
decides whether they make a `Detection`. Every adapter (HTTP today; CAP,
vendor and MQTT adapters later) builds this same command.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvidenceInput:
    uri: str
    sha256: str
    media_type: str
    size_bytes: int


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
