"""CityOps's own JSON report shape, shared by `POST /ingest/detections` and the
data of a CloudEvents `org.cityops.detection.v1` event, so the two can never
drift apart."""

from __future__ import annotations

from pydantic import Field, FiniteFloat

from detection.adapters.sources.common import Strict
from detection.domain.commands import EvidenceInput, ReportDetection


class EvidenceBody(Strict):
    uri: str
    sha256: str
    media_type: str
    size_bytes: int


class DetectionFields(Strict):
    """What a report says; what its values may be is decided by `domain.rules`."""

    source_kind: str
    category_code: str
    latitude: FiniteFloat
    longitude: FiniteFloat
    confidence: FiniteFloat
    vendor: str = ""
    device_id: str = ""
    description: str = ""
    model_name: str = ""
    model_version: str = ""
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    evidence: list[EvidenceBody] = Field(default_factory=list)

    def command(
        self, *, source_id: str, source_event_id: str, observed_at: str, raw_payload_sha256: str
    ) -> ReportDetection:
        fields = self.model_dump(
            exclude={"evidence", "source_id", "source_event_id", "observed_at"}
        )
        return ReportDetection(
            **fields,
            source_id=source_id,
            source_event_id=source_event_id,
            observed_at=observed_at,
            evidence=tuple(EvidenceInput(**e.model_dump()) for e in self.evidence),
            raw_payload_sha256=raw_payload_sha256,
        )


class IngestBody(DetectionFields):
    """`POST /ingest/detections`: a report naming its own source and event."""

    source_id: str
    source_event_id: str
    observed_at: str

    def to_command(self, raw_payload_sha256: str) -> ReportDetection:
        return self.command(
            source_id=self.source_id,
            source_event_id=self.source_event_id,
            observed_at=self.observed_at,
            raw_payload_sha256=raw_payload_sha256,
        )


class CloudEventData(DetectionFields):
    """The `data` of an `org.cityops.detection.v1` event; the source and the event
    id are the event's own `source` and `id`, and `observed_at` defaults to its `time`."""

    observed_at: str | None = None
