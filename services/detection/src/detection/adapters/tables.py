"""The detection store: one row per accepted source event."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class DetectionRow(SQLModel, table=True):
    """An accepted detection, flattened; `idempotency_key` is unique so a re-sent
    alarm cannot become a second detection even when two writers race."""

    __tablename__ = "detection_detection"

    detection_id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str = Field(unique=True, max_length=300)
    source_kind: str = Field(max_length=32)
    source_id: str = Field(max_length=128)
    source_event_id: str = Field(max_length=128)
    vendor: str = ""
    device_id: str = ""
    observed_at: datetime = Field(sa_type=UtcDateTime)
    received_at: datetime = Field(sa_type=UtcDateTime, index=True)
    latitude: float
    longitude: float
    district_code: str
    street_code: str
    grid_code: str
    category_code: str = Field(max_length=16)
    # CAP words ("Immediate"); "" when the source did not say.
    urgency: str = ""
    severity: str = ""
    certainty: str = ""
    confidence: float
    model_name: str = ""
    model_version: str = ""
    # JSON list of {uri, sha256, media_type, size_bytes}.
    evidence: str = "[]"
    raw_payload_sha256: str = Field(max_length=64)
    description: str = ""
