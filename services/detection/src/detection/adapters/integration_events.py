"""Domain ⇄ protobuf: the `Detection` message published and served over gRPC.

The domain keeps CAP words as its own enums (it imports no protos); the
tables here map each to the proto enum of the same name and are built at
import, so a member added on one side only fails at start-up, not in flight.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2, events_pb2
from detection.domain.model import Certainty, Detection, Severity, SourceKind, Urgency

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
    )


def detection_reported(d: Detection) -> events_pb2.DetectionReported:
    return events_pb2.DetectionReported(detection=to_proto(d))
