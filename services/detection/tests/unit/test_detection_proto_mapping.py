"""Domain → protobuf: every domain value has its proto counterpart, nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from detection.adapters import integration_events as events
from detection.domain.model import (
    Certainty,
    Detection,
    EvidenceRef,
    Place,
    Severity,
    SourceKind,
    Urgency,
)

DETECTION = Detection(
    detection_id="d-1",
    idempotency_key="cam:1",
    source_kind=SourceKind.DRONE,
    source_id="cam",
    source_event_id="1",
    observed_at=datetime(2025, 3, 1, 7, 59, 30, 250000, tzinfo=UTC),
    received_at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    place=Place(31.2, 121.5, "D01", "D01S01", "D01S01G01"),
    category_code="E0105",
    confidence=0.5,
    raw_payload_sha256="0" * 64,
    urgency=Urgency.EXPECTED,
    severity=None,
    certainty=Certainty.POSSIBLE,
    evidence=(EvidenceRef("https://x/y.jpg", "1" * 64, "image/jpeg", 10),),
)


def test_each_enum_maps_to_a_distinct_specified_proto_value() -> None:
    for table, size in (
        (events.SOURCE_KIND, len(SourceKind)),
        (events.URGENCY, len(Urgency)),
        (events.SEVERITY, len(Severity)),
        (events.CERTAINTY, len(Certainty)),
    ):
        values = list(table.values())
        assert len(table) == size and len(set(values)) == size and 0 not in values


def test_cap_words_map_to_the_proto_names() -> None:
    assert events.URGENCY[Urgency.IMMEDIATE] == common_pb2.URGENCY_IMMEDIATE
    assert events.SEVERITY[Severity.SEVERE] == common_pb2.SEVERITY_SEVERE
    assert events.CERTAINTY[Certainty.OBSERVED] == common_pb2.CERTAINTY_OBSERVED
    assert events.SOURCE_KIND[SourceKind.VIDEO_AI] == detection_pb2.SOURCE_KIND_VIDEO_AI


def test_to_proto_carries_every_field() -> None:
    message = events.detection_reported(DETECTION).detection
    assert message.detection_id == "d-1" and message.idempotency_key == "cam:1"
    assert message.source_kind == detection_pb2.SOURCE_KIND_DRONE
    assert message.observed_at.ToDatetime(tzinfo=UTC) == DETECTION.observed_at
    assert message.received_at.ToDatetime(tzinfo=UTC) == DETECTION.received_at
    assert (message.place.point.latitude, message.place.point.longitude) == (31.2, 121.5)
    assert message.place.grid_code == "D01S01G01"
    assert message.urgency == common_pb2.URGENCY_EXPECTED
    assert message.severity == common_pb2.SEVERITY_UNSPECIFIED  # the source did not say
    assert message.certainty == common_pb2.CERTAINTY_POSSIBLE
    assert [(e.uri, e.size_bytes) for e in message.evidence] == [("https://x/y.jpg", 10)]
    assert message.raw_payload_sha256 == "0" * 64
