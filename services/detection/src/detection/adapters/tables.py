"""The detection store: one row per accepted source event, and per-device alarm state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class DetectionRow(SQLModel, table=True):
    """An accepted detection, flattened; `idempotency_key` is unique so a re-sent
    alarm cannot become a second detection even when two writers race."""

    __tablename__ = "detection_detection"
    # Clearing a video alarm finds the device's active detections of one code.
    __table_args__ = (
        Index("ix_detection_detection_alarm", "source_id", "device_id", "source_code", "status"),
    )

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
    # JSON list of {uri, sha256, media_type, size_bytes, sha1}.
    evidence: str = "[]"
    raw_payload_sha256: str = Field(max_length=64)
    description: str = ""
    source_code: str = ""
    component_id: str = ""
    supersedes_detection_id: str = Field(default="", index=True)
    # JSON of the reported area / image region / sensor reading; "" when absent.
    area: str = ""
    region: str = ""
    reading: str = ""
    # CAP Test/Exercise/System: stored, never published.
    exercise: bool = False
    status: str = Field(default="active", max_length=16)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawal_kind: str = ""
    withdrawal_reason: str = ""


class IotAlarmRow(SQLModel, table=True):
    """A device metric's alarm state, so hysteresis survives restarts."""

    __tablename__ = "detection_iot_alarm"

    device_id: str = Field(primary_key=True, max_length=64)
    metric: str = Field(primary_key=True, max_length=64)
    raised: bool = False
    # The detection the raised alarm filed; "" when clear.
    detection_id: str = ""
    last_value: float | None = None
    last_reading_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
