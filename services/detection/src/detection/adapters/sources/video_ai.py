"""Video-analytics alarms: the generic layout, and what every video layout shares.

Generic layout (`layout: generic` vendors, `POST /ingest/video-ai/<vendor>`):
a JSON object naming the device, its own event id and alarm code, the time,
optionally the position (else the camera registry's), a confidence, the target's
region and the picture. `state: inactive` clears the device's active alarm of
that code. The vendor's map turns codes into 小类 and applies its confidence policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, FiniteFloat, StrictInt

from detection.adapters.sources.common import Strict, picture, validate
from detection.domain.commands import (
    ClearAlarm,
    EvidenceInput,
    ReportDetection,
    Skipped,
    SourceMessage,
)
from detection.domain.model import ImageRegion
from detection.domain.problems import refuse
from detection.domain.vendors import CameraRegistry, CodeRule, VendorMap


@dataclass(frozen=True)
class AlarmSite:
    """Where an alarm comes from: which source and device, and the point it watches."""

    source_id: str
    device_id: str
    latitude: float
    longitude: float
    component_id: str = ""


@dataclass(frozen=True)
class Sighting:
    """One target an alarm reports, before the vendor's policy is applied."""

    event_id: str
    code: str
    rule: CodeRule
    confidence: float | None
    region: ImageRegion | None
    item: str


def sightings_message(
    vendor: VendorMap,
    site: AlarmSite,
    sightings: list[Sighting],
    *,
    observed_at: str,
    raw_payload_sha256: str,
    evidence: tuple[EvidenceInput, ...],
    description: str = "",
    model: tuple[str, str] = ("", ""),
) -> SourceMessage:
    """One report per sighting at or above its code's minimum confidence; the rest skipped."""
    reports, skipped = [], []
    for s in sightings:
        confidence = vendor.confidence_of(s.confidence, s.rule, f"{s.item}.confidence")
        threshold = vendor.threshold(s.rule)
        if confidence < threshold:
            skipped.append(Skipped(s.item, f"confidence {confidence:g} is below {threshold:g}"))
            continue
        urgency, severity, certainty = vendor.cap_words(s.rule)
        reports.append(
            ReportDetection(
                source_id=site.source_id,
                source_event_id=s.event_id,
                source_kind=(s.rule.source_kind or vendor.source_kind).value,
                category_code=s.rule.category,
                latitude=site.latitude,
                longitude=site.longitude,
                observed_at=observed_at,
                confidence=confidence,
                raw_payload_sha256=raw_payload_sha256,
                vendor=vendor.vendor,
                device_id=site.device_id,
                description=description,
                model_name=model[0],
                model_version=model[1],
                urgency=urgency,
                severity=severity,
                certainty=certainty,
                evidence=evidence,
                source_code=s.code,
                component_id=site.component_id,
                region=s.region,
            )
        )
    return SourceMessage(reports=tuple(reports), skipped=tuple(skipped))


def codes_of(vendor: VendorMap, alarm: str, field: str) -> tuple[str, ...]:
    """The codes an alarm type covers (itself and its per-target `type/label` codes)."""
    codes = tuple(c for c in vendor.codes if c == alarm or c.startswith(f"{alarm}/"))
    if not codes:
        raise refuse(field, f"unknown {vendor.vendor} code {alarm[:128]!r}")
    return codes


class RegionBody(Strict):
    x: FiniteFloat
    y: FiniteFloat
    width: FiniteFloat
    height: FiniteFloat

    def region(self) -> ImageRegion:
        return ImageRegion(self.x, self.y, self.width, self.height)


class ImageBody(Strict):
    uri: str
    sha256: str | None = None
    media_type: str | None = None
    size_bytes: StrictInt | None = None

    def evidence(self) -> EvidenceInput:
        guessed = picture(self.uri, sha256=self.sha256, size=self.size_bytes)
        return EvidenceInput(
            guessed.uri, guessed.sha256, self.media_type or guessed.media_type, guessed.size_bytes
        )


class GenericAlarm(Strict):
    device_id: str
    channel: StrictInt = Field(1, ge=0, le=65535)
    event_id: str
    event_code: str
    state: Literal["active", "inactive"] = "active"
    observed_at: str
    latitude: FiniteFloat | None = None
    longitude: FiniteFloat | None = None
    confidence: FiniteFloat | None = None
    model_name: str = ""
    model_version: str = ""
    description: str = ""
    region: RegionBody | None = None
    image: ImageBody | None = None


def parse_generic(
    data: Any, vendor: VendorMap, cameras: CameraRegistry, raw_payload_sha256: str
) -> SourceMessage:
    alarm = validate(GenericAlarm, data)
    device = f"{alarm.device_id}/{alarm.channel}"
    if alarm.state == "inactive":
        codes = codes_of(vendor, alarm.event_code, "event_code")
        reason = f"{alarm.event_code} inactive at {alarm.observed_at}"
        return SourceMessage(clear=ClearAlarm(alarm.device_id, device, codes, reason))
    code, rule = vendor.rule(alarm.event_code, "event_code")
    site = _site(alarm, vendor, cameras, device)
    sighting = Sighting(
        alarm.event_id,
        code,
        rule,
        alarm.confidence,
        alarm.region.region() if alarm.region else None,
        "confidence",
    )
    return sightings_message(
        vendor,
        site,
        [sighting],
        observed_at=alarm.observed_at,
        raw_payload_sha256=raw_payload_sha256,
        evidence=(alarm.image.evidence(),) if alarm.image else (),
        description=alarm.description,
        model=(alarm.model_name, alarm.model_version),
    )


def _site(
    alarm: GenericAlarm, vendor: VendorMap, cameras: CameraRegistry, device: str
) -> AlarmSite:
    if alarm.latitude is not None and alarm.longitude is not None:
        return AlarmSite(alarm.device_id, device, alarm.latitude, alarm.longitude)
    if alarm.latitude is not None or alarm.longitude is not None:
        raise refuse("latitude", "give both latitude and longitude, or neither")
    _camera, channel = cameras.locate(vendor.vendor, [alarm.device_id], alarm.channel, "device_id")
    return AlarmSite(
        alarm.device_id, device, channel.latitude, channel.longitude, channel.component_id
    )
