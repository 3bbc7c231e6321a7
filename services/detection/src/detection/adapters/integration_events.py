"""Domain ⇄ protobuf: the `Detection` message published and served over gRPC.

The domain keeps CAP words as its own enums (it imports no protos); the
tables here map each to the proto enum of the same name and are built at
import, so a member added on one side only fails at start-up, not in flight.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2, events_pb2
from detection.domain.model import (
    Certainty,
    Detection,
    ImageRegion,
    ReportedArea,
    SensorReading,
    Severity,
    SourceKind,
    Urgency,
    WithdrawalKind,
)
from svckit.messaging.subjects import subject

# Not (yet) among svckit's subject constants; the DETECTION stream covers it.
DETECTION_WITHDRAWN = subject("detection", "detection", "withdrawn")

SOURCE_KIND: dict[SourceKind, detection_pb2.SourceKind.ValueType] = {
    k: detection_pb2.SourceKind.Value(f"SOURCE_KIND_{k.name}") for k in SourceKind
}
URGENCY: dict[Urgency, common_pb2.Urgency.ValueType] = {
    u: common_pb2.Urgency.Value(f"URGENCY_{u.name}") for u in Urgency
}
SEVERITY: dict[Severity, common_pb2.Severity.ValueType] = {
    s: common_pb2.Severity.Value(f"SEVERITY_{s.name}") for s in Severity
}
CERTAINTY: dict[Certainty, common_pb2.Certainty.ValueType] = {
    c: common_pb2.Certainty.Value(f"CERTAINTY_{c.name}") for c in Certainty
}
WITHDRAWAL_KIND: dict[WithdrawalKind, events_pb2.WithdrawalKind.ValueType] = {
    k: events_pb2.WithdrawalKind.Value(f"WITHDRAWAL_KIND_{k.name}") for k in WithdrawalKind
}


def to_proto(d: Detection) -> detection_pb2.Detection:
    """The normalised detection as the contract message; absent CAP fields stay UNSPECIFIED."""
    observed_at, received_at = Timestamp(), Timestamp()
    observed_at.FromDatetime(d.observed_at)
    received_at.FromDatetime(d.received_at)
    return detection_pb2.Detection(
        detection_id=d.detection_id,
        idempotency_key=d.idempotency_key,
        source_kind=SOURCE_KIND[d.source_kind],
        source_id=d.source_id,
        source_event_id=d.source_event_id,
        vendor=d.vendor,
        device_id=d.device_id,
        observed_at=observed_at,
        received_at=received_at,
        place=common_pb2.Place(
            point=common_pb2.GeoPoint(latitude=d.place.latitude, longitude=d.place.longitude),
            district_code=d.place.district_code,
            street_code=d.place.street_code,
            grid_code=d.place.grid_code,
        ),
        category_code=d.category_code,
        urgency=URGENCY[d.urgency] if d.urgency else common_pb2.URGENCY_UNSPECIFIED,
        severity=SEVERITY[d.severity] if d.severity else common_pb2.SEVERITY_UNSPECIFIED,
        certainty=CERTAINTY[d.certainty] if d.certainty else common_pb2.CERTAINTY_UNSPECIFIED,
        confidence=d.confidence,
        model_name=d.model_name,
        model_version=d.model_version,
        evidence=[
            common_pb2.EvidenceRef(
                uri=e.uri, sha256=e.sha256, media_type=e.media_type, size_bytes=e.size_bytes
            )
            for e in d.evidence
        ],
        raw_payload_sha256=d.raw_payload_sha256,
        description=d.description,
        supersedes_detection_id=d.supersedes_detection_id,
        source_code=d.source_code,
        component_id=d.component_id,
        area=_area(d.area) if d.area else None,
        region=_region(d.region) if d.region else None,
        reading=_reading(d.reading) if d.reading else None,
        evidence_digests=[
            detection_pb2.EvidenceDigest(uri=e.uri, algorithm="sha1", value=e.sha1)
            for e in d.evidence
            if e.sha1
        ],
    )


def detection_reported(d: Detection) -> events_pb2.DetectionReported:
    return events_pb2.DetectionReported(detection=to_proto(d))


def detection_withdrawn(d: Detection) -> events_pb2.DetectionWithdrawn:
    """The withdrawal of a detection already marked withdrawn."""
    if d.withdrawn_at is None or d.withdrawal_kind is None:
        raise ValueError(f"detection {d.detection_id} is not withdrawn")
    withdrawn_at = Timestamp()
    withdrawn_at.FromDatetime(d.withdrawn_at)
    return events_pb2.DetectionWithdrawn(
        detection_id=d.detection_id,
        idempotency_key=d.idempotency_key,
        reason=d.withdrawal_reason,
        withdrawn_at=withdrawn_at,
        kind=WITHDRAWAL_KIND[d.withdrawal_kind],
    )


def _point(latitude: float, longitude: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(latitude=latitude, longitude=longitude)


def _area(a: ReportedArea) -> detection_pb2.DetectionArea:
    return detection_pb2.DetectionArea(
        description=a.description,
        polygons=[
            detection_pb2.GeoPolygon(points=[_point(lat, lon) for lat, lon in ring])
            for ring in a.polygons
        ],
        circles=[
            detection_pb2.GeoCircle(centre=_point(c.latitude, c.longitude), radius_m=c.radius_m)
            for c in a.circles
        ],
        geocodes=[
            detection_pb2.Geocode(value_name=g.value_name, value=g.value) for g in a.geocodes
        ],
    )


def _region(r: ImageRegion) -> detection_pb2.ImageRegion:
    return detection_pb2.ImageRegion(x=r.x, y=r.y, width=r.width, height=r.height)


def _reading(r: SensorReading) -> detection_pb2.SensorReading:
    return detection_pb2.SensorReading(
        metric=r.metric, value=r.value, unit=r.unit, threshold=r.threshold
    )
