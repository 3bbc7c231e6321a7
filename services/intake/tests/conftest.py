"""Fixtures shared by intake's tests: the repository's own reference data and policy,
and a builder for detections as the detection service publishes them."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from intake.bootstrap import load_reference
from intake.config import IntakeSettings
from intake.domain.filing import Reference

Report = Callable[..., detection_events.DetectionReported]

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SOURCE_KINDS = {
    "video_ai": detection_pb2.SOURCE_KIND_VIDEO_AI,
    "drone": detection_pb2.SOURCE_KIND_DRONE,
    "iot": detection_pb2.SOURCE_KIND_IOT,
    "citizen": detection_pb2.SOURCE_KIND_CITIZEN,
    "": detection_pb2.SOURCE_KIND_UNSPECIFIED,
}


@pytest.fixture(scope="session")
def ref() -> Reference:
    """Catalogue, sample city and policy from config/ (the files the service ships with)."""
    return load_reference(IntakeSettings())


@pytest.fixture(scope="session")
def inside(ref: Reference) -> tuple[float, float]:
    """A (latitude, longitude) inside the sample city."""
    return ref.city_map.random_point(random.Random(7))


def offset(point: tuple[float, float], north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    """A point some metres north and east of another."""
    lat, lon = point
    return (
        lat + north_m / 111_195.0,
        lon + east_m / (111_195.0 * math.cos(math.radians(lat))),
    )


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def report(
    point: tuple[float, float] | None,
    detection_id: str = "det-1",
    *,
    code: str = "C0101",
    source_id: str = "cam-7",
    kind: str = "video_ai",
    observed_at: datetime = T0,
    confidence: float = 0.9,
    component_id: str = "",
    device_id: str = "",
    supersedes: str = "",
    urgency: int = common_pb2.URGENCY_IMMEDIATE,
) -> detection_events.DetectionReported:
    """A DetectionReported as the detection service publishes it."""
    detection = detection_pb2.Detection(
        detection_id=detection_id,
        idempotency_key=f"{source_id}:{detection_id}",
        source_kind=SOURCE_KINDS[kind],
        source_id=source_id,
        device_id=device_id or source_id,
        component_id=component_id,
        category_code=code,
        urgency=urgency,  # type: ignore[arg-type]
        observed_at=stamp(observed_at),
        confidence=confidence,
        supersedes_detection_id=supersedes,
        evidence=[
            common_pb2.EvidenceRef(
                uri=f"https://evidence.example/{source_id}/{detection_id}.jpg",
                sha256=hashlib.sha256(detection_id.encode()).hexdigest(),
                media_type="image/jpeg",
            )
        ],
    )
    if point is not None:
        detection.place.CopyFrom(
            common_pb2.Place(point=common_pb2.GeoPoint(latitude=point[0], longitude=point[1]))
        )
    return detection_events.DetectionReported(detection=detection)


@pytest.fixture
def detection_report() -> Report:
    """`report(point, detection_id, code=..., source_id=..., kind=..., observed_at=..., ...)`."""
    return report


@pytest.fixture
def near() -> Callable[..., tuple[float, float]]:
    """`near(point, north_m, east_m=0)`: a point that many metres away."""
    return offset
