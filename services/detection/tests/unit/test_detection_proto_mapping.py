"""Domain → protobuf: every domain value has its proto counterpart, nothing is lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from detection.adapters import integration_events as events
from detection.domain import rules
from detection.domain.model import (
    Certainty,
    Circle,
    Detection,
    EvidenceRef,
    Geocode,
    ImageRegion,
    Place,
    ReportedArea,
    SensorReading,
    Severity,
    SourceKind,
    Urgency,
    WithdrawalKind,
)
from svckit.errors import FailedPreconditionError

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


def test_the_source_specific_parts_reach_the_contract() -> None:
    ring = ((31.2, 121.5), (31.2, 121.6), (31.3, 121.6), (31.2, 121.5))
    detailed = replace(
        DETECTION,
        supersedes_detection_id="d-0",
        source_code="roadDamage/pothole",
        component_id="C0101-1",
        area=ReportedArea("湖滨路", (ring,), (Circle(31.2, 121.5, 150.0),), (Geocode("G", "1"),)),
        region=ImageRegion(0.1, 0.2, 0.3, 0.4),
        reading=SensorReading("gas_ppm", 80.0, "ppm", 50.0),
        evidence=(EvidenceRef("https://x/y.jpg", "", "image/jpeg", 0, "a" * 40),),
    )
    message = events.to_proto(detailed)
    assert (message.supersedes_detection_id, message.source_code) == ("d-0", "roadDamage/pothole")
    assert message.component_id == "C0101-1"
    assert [(p.latitude, p.longitude) for p in message.area.polygons[0].points] == list(ring)
    assert message.area.circles[0].radius_m == 150.0 and message.area.geocodes[0].value == "1"
    assert message.region.height == 0.4 and message.reading.threshold == 50.0
    assert [(d.algorithm, d.value) for d in message.evidence_digests] == [("sha1", "a" * 40)]
    plain = events.to_proto(DETECTION)
    assert (
        not plain.HasField("area") and not plain.HasField("reading") and not plain.evidence_digests
    )


def test_a_withdrawal_names_its_kind_and_reason() -> None:
    at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    withdrawn = rules.withdraw(DETECTION, WithdrawalKind.CANCELLED, "sensor fault\x00", at)
    message = events.detection_withdrawn(withdrawn)
    assert message.detection_id == "d-1" and message.idempotency_key == "cam:1"
    assert message.kind == events.WITHDRAWAL_KIND[WithdrawalKind.CANCELLED] != 0
    assert message.reason == "sensor fault" and message.withdrawn_at.ToDatetime(tzinfo=UTC) == at
    assert events.DETECTION_WITHDRAWN == "cityops.detection.detection.withdrawn"
    with pytest.raises(ValueError):
        events.detection_withdrawn(DETECTION)
    with pytest.raises(FailedPreconditionError, match="not active"):
        rules.withdraw(withdrawn, WithdrawalKind.CLEARED, "again", at)
    with pytest.raises(FailedPreconditionError, match="not active"):
        rules.supersede(withdrawn)
