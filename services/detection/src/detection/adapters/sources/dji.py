"""Drone inspection results in the DJI Cloud API style → reports.

The envelope is DJI's event message (`tid`, `bid`, `timestamp`, `gateway`,
`method`, `data`) with `method: file_upload_callback`; `data.file` is DJI's
media-upload callback (`object_key`, `name`, `ext.flight_id`, `ext.sn` — the
aircraft serial —, `metadata.shoot_position.lat/lng`, `absolute_altitude`,
`relative_altitude`, `gimbal_yaw_degree`, `create_time`), plus the `url` the
photo can be fetched from (and its `sha256`/`size` when the uploader knows
them). `data.ai_result` carries the on-board or dock-side model's labels, each
with a confidence and a box (fractions of the photo). DJI defines no AI result
schema; this one is CityOps's, documented in docs/ingest.md.

One report per label at or above its code's minimum confidence; the event id is
`<tid>#<label index>` (DJI resends an unacknowledged event with the same tid).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from detection.adapters.sources.common import Lenient, picture, validate, vendor_time
from detection.adapters.sources.video_ai import AlarmSite, Sighting, sightings_message
from detection.domain.commands import SourceMessage
from detection.domain.model import ImageRegion
from detection.domain.problems import refuse
from detection.domain.vendors import VendorMap

METHOD = "file_upload_callback"


class _Position(Lenient):
    lat: float
    lng: float


class _Metadata(Lenient):
    shoot_position: _Position
    create_time: str
    absolute_altitude: float | None = None
    relative_altitude: float | None = None
    # DJI sends this one as a string ("-91.40"); lax parsing takes either.
    gimbal_yaw_degree: float | None = None


class _Ext(Lenient):
    flight_id: str = Field("", max_length=64)
    sn: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    drone_model_key: str = ""
    payload_model_key: str = ""


class _File(Lenient):
    object_key: str = ""
    name: str = ""
    url: str
    sha256: str | None = None
    size: int | None = None
    ext: _Ext
    metadata: _Metadata


class _Box(Lenient):
    x: float
    y: float
    width: float
    height: float


class _Label(Lenient):
    label: str = Field(min_length=1, max_length=64)
    confidence: float
    box: _Box | None = None


class _AiResult(Lenient):
    model_name: str = ""
    model_version: str = ""
    labels: list[_Label] = Field(max_length=100)


class _Data(Lenient):
    file: _File
    ai_result: _AiResult


class _Event(Lenient):
    tid: str = Field(min_length=1, max_length=64)
    bid: str = ""
    timestamp: int
    gateway: str = ""
    method: Literal["file_upload_callback"]
    data: _Data


def parse(data: Any, vendor: VendorMap, raw_payload_sha256: str) -> SourceMessage:
    event = validate(_Event, data)
    file, meta = event.data.file, event.data.file.metadata
    labels = event.data.ai_result.labels
    if not labels:
        raise refuse("data.ai_result.labels", "an inspection result needs at least one label")
    site = AlarmSite(file.ext.sn, file.ext.sn, meta.shoot_position.lat, meta.shoot_position.lng)
    sightings = []
    for i, label in enumerate(labels):
        code, rule = vendor.rule(label.label, f"data.ai_result.labels.{i}.label")
        box = label.box
        region = ImageRegion(box.x, box.y, box.width, box.height) if box else None
        item = f"data.ai_result.labels.{i}"
        sightings.append(Sighting(f"{event.tid}#{i}", code, rule, label.confidence, region, item))
    return sightings_message(
        vendor,
        site,
        sightings,
        observed_at=vendor_time(meta.create_time, vendor.local_utc_offset, "metadata.create_time"),
        raw_payload_sha256=raw_payload_sha256,
        evidence=(picture(file.url, sha256=file.sha256, size=file.size),),
        description=_flight(event, meta),
        model=(event.data.ai_result.model_name, event.data.ai_result.model_version),
    )


def _flight(event: _Event, meta: _Metadata) -> str:
    """Where the aircraft was, for the operator (the vendor payload itself stops here)."""
    parts = [f"flight {event.data.file.ext.flight_id}" if event.data.file.ext.flight_id else ""]
    if meta.relative_altitude is not None:
        parts.append(f"altitude {meta.relative_altitude:g} m")
    if meta.gimbal_yaw_degree is not None:
        parts.append(f"heading {meta.gimbal_yaw_degree:g}°")
    return ", ".join(p for p in parts if p)
