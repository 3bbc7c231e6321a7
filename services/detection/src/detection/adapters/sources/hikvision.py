"""Hikvision ISAPI `EventNotificationAlert` (JSON, HTTP listening mode) → commands.

The fields read: `macAddress`/`ipAddress` and `channelID` (which camera
channel: positions come from the camera registry, since ISAPI alarms carry no
coordinates), `dateTime`, `eventType`, `eventState` (active / inactive),
`eventDescription`, `activePostCount`, `targets[]` (`detectionTarget`,
`confidence` in percent, `rect` as fractions of the picture) and `pictureURL`.
Everything else a camera sends is ignored. The body may be the alert itself or
`{"EventNotificationAlert": {...}}`.

- active: one report per target at or above its code's minimum confidence; the
  code is `<eventType>/<detectionTarget>` when mapped, else `<eventType>`. The
  event id is `ch<channel>/<eventType>@<dateTime>#<target index>`, so the same
  alarm posted again is the same detection.
- inactive: the alarm has ended: every active detection of that camera channel
  under the eventType's codes is withdrawn (kind CLEARED).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from detection.adapters.sources.common import Lenient, picture, validate, vendor_time
from detection.adapters.sources.video_ai import AlarmSite, Sighting, codes_of, sightings_message
from detection.domain.commands import ClearAlarm, SourceMessage
from detection.domain.model import ImageRegion
from detection.domain.problems import refuse
from detection.domain.vendors import CameraRegistry, VendorMap

WRAPPER = "EventNotificationAlert"


class _Rect(Lenient):
    x: float
    y: float
    width: float
    height: float


class _Target(Lenient):
    detection_target: str = Field("", alias="detectionTarget")
    confidence: float | None = None
    rect: _Rect | None = Field(None, validation_alias=AliasChoices("rect", "Rect"))


class _Alert(Lenient):
    ip_address: str = Field("", alias="ipAddress")
    mac_address: str = Field("", alias="macAddress")
    channel_id: int = Field(alias="channelID", ge=0, le=65535)
    date_time: str = Field(alias="dateTime")
    event_type: str = Field(alias="eventType", min_length=1, max_length=64)
    event_state: Literal["active", "inactive"] = Field(alias="eventState")
    event_description: str = Field("", alias="eventDescription", max_length=512)
    targets: list[_Target] = Field(default_factory=list, max_length=64)
    picture_url: str = Field("", alias="pictureURL")


def parse(
    data: Any, vendor: VendorMap, cameras: CameraRegistry, raw_payload_sha256: str
) -> SourceMessage:
    if isinstance(data, dict) and set(data) == {WRAPPER}:
        data = data[WRAPPER]
    alert = validate(_Alert, data)
    names = [alert.mac_address, alert.ip_address]
    if not any(n.strip() for n in names):
        raise refuse("macAddress", "give macAddress or ipAddress to name the camera")
    camera, channel = cameras.locate(vendor.vendor, names, alert.channel_id, "macAddress")
    device = f"{camera.device_id}/{channel.channel}"
    observed_at = vendor_time(alert.date_time, vendor.local_utc_offset, "dateTime")
    if alert.event_state == "inactive":
        codes = codes_of(vendor, alert.event_type, "eventType")
        reason = f"{alert.event_type} inactive at {alert.date_time}"
        return SourceMessage(clear=ClearAlarm(camera.device_id, device, codes, reason))
    site = AlarmSite(
        camera.device_id, device, channel.latitude, channel.longitude, channel.component_id
    )
    event_id = f"ch{channel.channel}/{alert.event_type}@{observed_at}"
    return sightings_message(
        vendor,
        site,
        _sightings(alert, vendor, event_id),
        observed_at=observed_at,
        raw_payload_sha256=raw_payload_sha256,
        evidence=(picture(alert.picture_url),) if alert.picture_url else (),
        description=alert.event_description,
    )


def _sightings(alert: _Alert, vendor: VendorMap, event_id: str) -> list[Sighting]:
    if not alert.targets:
        code, rule = vendor.rule(alert.event_type, "eventType")
        return [Sighting(f"{event_id}#0", code, rule, None, None, "eventType")]
    sightings = []
    for i, target in enumerate(alert.targets):
        label = target.detection_target.strip()
        candidates = (
            [f"{alert.event_type}/{label}", alert.event_type] if label else [alert.event_type]
        )
        found = vendor.find_rule(candidates)
        if found is None:
            raise refuse(
                f"targets.{i}.detectionTarget",
                f"unknown {vendor.vendor} code {candidates[0][:128]!r}",
            )
        rect = target.rect
        region = ImageRegion(rect.x, rect.y, rect.width, rect.height) if rect else None
        sightings.append(
            Sighting(
                f"{event_id}#{i}", found[0], found[1], target.confidence, region, f"targets.{i}"
            )
        )
    return sightings
