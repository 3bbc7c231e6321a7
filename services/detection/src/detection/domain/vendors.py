"""Vendor maps and the camera registry: what a source's own codes mean here.

A vendor map (one file per vendor under `config/vendors/`) turns the vendor's
alarm codes into catalogue 小类 with a confidence policy; the camera registry
says where each camera channel looks, because video alarms (Hikvision ISAPI
among them) carry no coordinates. Both are validated when loaded, against the
catalogue and the city map, so a typo stops the service at start rather than
refusing alarms at three in the morning.

Pure: built from already-parsed mappings (the YAML is read in `adapters`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from detection.domain.model import Certainty, Severity, SourceKind, Urgency
from detection.domain.problems import InvalidReportError, refuse
from svckit.errors import NotFoundError
from svckit.reference import Catalogue, CityMap

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class VendorConfigError(ValueError):
    """A vendor map, the camera registry or the IoT configuration is unusable;
    `problems` names each entry at fault."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {source}: {len(self.problems)} problem(s)\n{lines}")


class Layout(StrEnum):
    """Which payload format a vendor's endpoint speaks."""

    GENERIC = "generic"
    HIKVISION_ISAPI = "hikvision-isapi"
    DJI_CLOUD = "dji-cloud"
    CAP = "cap"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeRule(_Config):
    """One vendor code: its 小类 and how far its confidence is trusted."""

    category: Code
    # Below this (after scaling) the alarm is skipped: answered, counted, not stored.
    min_confidence: Unit | None = None
    # Used when the vendor gives no confidence for this code.
    confidence: Unit | None = None
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    # Overrides the vendor's source kind (a CAP feed carries sensor and hotline alerts).
    source_kind: SourceKind | None = None


class GeoPoint(_Config):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class VendorMap(_Config):
    """A vendor's file: its layout, its default policy and its codes."""

    vendor: Annotated[str, StringConstraints(pattern=_NAME.pattern)]
    layout: Layout
    source_kind: SourceKind
    description: str = ""
    # The vendor's confidence scale: 1 (fractions) or 100 (percentages).
    confidence_scale: Annotated[float, Field(gt=0)] = 1.0
    min_confidence: Unit = 0.0
    confidence: Unit = 0.5
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    # Zone offset for vendor times written without one (DJI `create_time`).
    local_utc_offset: Annotated[str, StringConstraints(pattern=r"^[+-]\d\d:\d\d$")] = "+08:00"
    # CAP: the confidence a certainty word stands for.
    certainty_confidence: dict[Certainty, Unit] = Field(default_factory=dict)
    # CAP: representative points of geocodes ("valueName=value").
    geocodes: dict[Code, GeoPoint] = Field(default_factory=dict)
    codes: dict[Code, CodeRule]

    def rule(self, code: str, field_name: str) -> tuple[str, CodeRule]:
        """The code as configured and its rule; an unknown code is refused (422)."""
        rule = self.codes.get(code.strip())
        if rule is None:
            raise refuse(field_name, f"unknown {self.vendor} code {code.strip()[:128]!r}")
        return code.strip(), rule

    def find_rule(self, candidates: Iterable[str]) -> tuple[str, CodeRule] | None:
        """The first candidate code this map knows, with its rule."""
        for code in candidates:
            rule = self.codes.get(code.strip())
            if rule is not None:
                return code.strip(), rule
        return None

    def confidence_of(self, raw: float | None, rule: CodeRule, field_name: str) -> float:
        """The vendor's confidence on the 0..1 scale, or the configured default."""
        if raw is None:
            return rule.confidence if rule.confidence is not None else self.confidence
        value = raw / self.confidence_scale
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise refuse(field_name, f"must be between 0 and {self.confidence_scale:g}")
        return value

    def threshold(self, rule: CodeRule) -> float:
        return rule.min_confidence if rule.min_confidence is not None else self.min_confidence

    def cap_words(self, rule: CodeRule) -> tuple[str | None, str | None, str | None]:
        """Urgency, severity, certainty words: the code's, else the vendor's defaults."""
        return (
            _word(rule.urgency or self.urgency),
            _word(rule.severity or self.severity),
            _word(rule.certainty or self.certainty),
        )


class CameraChannel(_Config):
    channel: Annotated[int, Field(ge=0, le=65535)]
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str = ""
    # The asset the camera watches, when it watches one (a bus shelter, a hydrant).
    component_id: str = ""


class Camera(_Config):
    device_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    vendor: Annotated[str, StringConstraints(pattern=_NAME.pattern)]
    # How an ISAPI alarm names the camera: its MAC address or its IP address.
    mac_address: str = ""
    ip_address: str = ""
    channels: list[CameraChannel]


class _CameraFile(_Config):
    cameras: list[Camera]


@dataclass(frozen=True)
class CameraRegistry:
    """Camera channel → position. Lookups by device id, MAC or IP address."""

    cameras: tuple[Camera, ...] = ()
    _index: dict[tuple[str, str], Camera] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for camera in self.cameras:
            for key in (camera.device_id, camera.mac_address.lower(), camera.ip_address):
                if key:
                    self._index[(camera.vendor, key)] = camera

    def locate(
        self, vendor: str, names: Iterable[str], channel: int, field_name: str
    ) -> tuple[Camera, CameraChannel]:
        """The camera known by any of `names` and its channel; refused (422) if unregistered."""
        tried = [n.strip() for n in names if n and n.strip()]
        for name in tried:
            camera = self._index.get((vendor, name)) or self._index.get((vendor, name.lower()))
            if camera is None:
                continue
            for ch in camera.channels:
                if ch.channel == channel:
                    return camera, ch
            raise refuse(field_name, f"camera {camera.device_id} has no channel {channel}")
        raise refuse(field_name, f"no registered {vendor} camera is named {tried[:3]!r}")


@dataclass(frozen=True)
class SourceConfig:
    """Every vendor map plus the camera registry, as the service runs with them."""

    vendors: Mapping[str, VendorMap] = field(default_factory=dict)
    cameras: CameraRegistry = field(default_factory=CameraRegistry)

    def vendor(self, name: str, layouts: Iterable[Layout]) -> VendorMap:
        """The vendor's map if it speaks one of `layouts`; NotFound (404) otherwise."""
        found = self.vendors.get(name)
        if found is None or found.layout not in set(layouts):
            raise NotFoundError(f"no vendor {name[:64]!r} is configured for this endpoint")
        return found


def vendor_map(data: Any, *, source: str, catalogue: Catalogue, city: CityMap) -> VendorMap:
    """A vendor file's content, validated (codes name real 小类, geocodes lie in the city)."""
    try:
        parsed = VendorMap.model_validate(data)
    except ValidationError as exc:
        raise VendorConfigError(source, config_problems(exc)) from None
    problems = [
        f"codes.{code}: unknown 小类 {rule.category!r}"
        for code, rule in parsed.codes.items()
        if rule.category not in catalogue
    ]
    problems += [
        f"geocodes.{code}: ({p.latitude}, {p.longitude}) is outside the city"
        for code, p in parsed.geocodes.items()
        if city.locate(p.latitude, p.longitude) is None
    ]
    if problems:
        raise VendorConfigError(source, problems)
    return parsed


def camera_registry(data: Any, *, source: str, city: CityMap) -> CameraRegistry:
    """The camera file's content, validated (unique ids, channels inside the city)."""
    try:
        parsed = _CameraFile.model_validate(data)
    except ValidationError as exc:
        raise VendorConfigError(source, config_problems(exc)) from None
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for camera in parsed.cameras:
        for key in (camera.device_id, camera.mac_address.lower(), camera.ip_address):
            if key and (camera.vendor, key) in seen:
                problems.append(f"camera {camera.device_id}: {key!r} is used twice")
            seen.add((camera.vendor, key))
        for ch in camera.channels:
            if city.locate(ch.latitude, ch.longitude) is None:
                problems.append(f"camera {camera.device_id} channel {ch.channel}: outside the city")
    if problems:
        raise VendorConfigError(source, problems)
    return CameraRegistry(tuple(parsed.cameras))


def config_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    ]


def _word(value: Urgency | Severity | Certainty | None) -> str | None:
    return value.value if value is not None else None


__all__ = [
    "Camera",
    "CameraChannel",
    "CameraRegistry",
    "CodeRule",
    "InvalidReportError",
    "Layout",
    "SourceConfig",
    "VendorConfigError",
    "VendorMap",
    "camera_registry",
    "vendor_map",
]
