"""IoT sensors: which readings are alarms, with hysteresis, and where each device is.

A rule per sensor type and metric raises an alarm when a reading crosses
`raise_at` and clears it only when a reading comes back past `clear_at` (below
it for a rising metric such as gas ppm, above it for a falling one such as
pipe pressure). Between the two the alarm holds, so a sensor flapping around
the threshold makes one detection, not one per reading. A cleared alarm
withdraws its detection (kind CLEARED).

Pure: the state is handed in and handed back; the service keeps it per device
and metric in its database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from detection.domain.commands import ReportDetection
from detection.domain.model import Certainty, SensorReading, Severity, SourceKind, Urgency
from detection.domain.problems import refuse
from detection.domain.vendors import VendorConfigError, config_problems
from svckit.reference import Catalogue, CityMap

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_READINGS = 64


class Direction(StrEnum):
    """Which way is dangerous: a rising gas level, a falling pipe pressure."""

    RISING = "rising"
    FALLING = "falling"


class Transition(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"
    HOLD = "hold"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricRule(_Config):
    """One metric of a sensor type: thresholds with hysteresis and what an alarm means."""

    unit: str
    # The 小类 an alarm files under; a device may set its own (which cover it sits on).
    category: str | None = None
    direction: Direction = Direction.RISING
    raise_at: float
    clear_at: float
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.95
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = Certainty.OBSERVED

    @model_validator(mode="after")
    def _hysteresis(self) -> Self:
        if not (math.isfinite(self.raise_at) and math.isfinite(self.clear_at)):
            raise ValueError("raise_at and clear_at must be finite")
        if self.direction is Direction.RISING and not self.clear_at < self.raise_at:
            raise ValueError("a rising metric needs clear_at < raise_at")
        if self.direction is Direction.FALLING and not self.clear_at > self.raise_at:
            raise ValueError("a falling metric needs clear_at > raise_at")
        return self

    def step(self, raised: bool, value: float) -> Transition:
        """What a reading does to an alarm that is (or is not) raised."""
        rising = self.direction is Direction.RISING
        if not raised and (value >= self.raise_at if rising else value <= self.raise_at):
            return Transition.RAISE
        if raised and (value <= self.clear_at if rising else value >= self.clear_at):
            return Transition.CLEAR
        return Transition.HOLD


class SensorType(_Config):
    name_zh: str = ""
    name_en: str = ""
    metrics: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")], MetricRule]


class Device(_Config):
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
    type: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    category: str | None = None
    component_id: str = ""
    vendor: str = ""
    name: str = ""


class _RulesFile(_Config):
    sensor_types: dict[str, SensorType]


class _DevicesFile(_Config):
    devices: list[Device]


@dataclass(frozen=True)
class AlarmState:
    """One device metric's alarm: raised or not, and the last reading applied."""

    device_id: str
    metric: str
    raised: bool = False
    detection_id: str = ""
    last_value: float | None = None
    last_reading_at: datetime | None = None

    def is_stale(self, at: datetime) -> bool:
        """A reading no newer than the last applied one (a replay or a late packet)
        must not move the alarm: readings are applied in time order only."""
        return self.last_reading_at is not None and at <= self.last_reading_at

    def apply(self, rule: MetricRule, value: float, at: datetime) -> tuple[Self, Transition]:
        """The state after this reading and what it did."""
        transition = rule.step(self.raised, value)
        raised = {Transition.RAISE: True, Transition.CLEAR: False}.get(transition, self.raised)
        detection_id = self.detection_id if raised else ""
        after = replace(
            self, raised=raised, detection_id=detection_id, last_value=value, last_reading_at=at
        )
        return after, transition


@dataclass(frozen=True)
class IotConfig:
    """Sensor types and devices, as the service runs with them."""

    sensor_types: Mapping[str, SensorType] = field(default_factory=dict)
    devices: Mapping[str, Device] = field(default_factory=dict)

    def device(self, device_id: str) -> Device:
        found = self.devices.get(device_id)
        if found is None:
            raise refuse("device_id", f"no registered device {device_id[:64]!r}")
        return found

    def rule(self, device: Device, metric: str) -> MetricRule | None:
        """The rule for this metric of this device's type; None for a metric with no
        rule (battery voltage, signal strength): such readings are not alarms."""
        return self.sensor_types[device.type].metrics.get(metric)


def detection_report(
    device: Device,
    metric: str,
    rule: MetricRule,
    value: float,
    observed_at: datetime,
    raw_payload_sha256: str,
) -> ReportDetection:
    """The report a raised alarm files; its event id is the metric and the reading's time."""
    threshold = rule.raise_at
    direction = "≥" if rule.direction is Direction.RISING else "≤"
    return ReportDetection(
        source_id=device.device_id,
        source_event_id=f"{metric}@{observed_at.isoformat()}",
        source_kind=SourceKind.IOT.value,
        category_code=device.category or rule.category or "",
        latitude=device.latitude,
        longitude=device.longitude,
        observed_at=observed_at.isoformat(),
        confidence=rule.confidence,
        raw_payload_sha256=raw_payload_sha256,
        vendor=device.vendor,
        device_id=device.device_id,
        description=f"{metric} {value:g} {rule.unit} {direction} {threshold:g}",
        urgency=rule.urgency.value if rule.urgency else None,
        severity=rule.severity.value if rule.severity else None,
        certainty=rule.certainty.value if rule.certainty else None,
        source_code=metric,
        component_id=device.component_id,
        reading=SensorReading(metric, value, rule.unit, threshold),
    )


def reading_values(readings: Mapping[str, Any]) -> dict[str, float]:
    """The numeric readings of a telemetry message; refused (422) if any is not a number."""
    if len(readings) > MAX_READINGS:
        raise refuse("readings", f"at most {MAX_READINGS} metrics")
    values: dict[str, float] = {}
    for metric, value in readings.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"readings.{metric[:64]}", "must be a number")
        if not math.isfinite(value):
            raise refuse(f"readings.{metric[:64]}", "must be finite")
        values[metric] = float(value)
    return values


def iot_config(
    rules: Any, devices: Any, *, source: str, catalogue: Catalogue, city: CityMap
) -> IotConfig:
    """The rules and device files' content, validated against each other, the
    catalogue and the city map."""
    try:
        types = _RulesFile.model_validate(rules).sensor_types
        registry = _DevicesFile.model_validate(devices).devices
    except ValidationError as exc:
        raise VendorConfigError(source, config_problems(exc)) from None
    problems = [
        f"sensor_types.{t}.metrics.{m}: unknown 小类 {r.category!r}"
        for t, st in types.items()
        for m, r in st.metrics.items()
        if r.category is not None and r.category not in catalogue
    ]
    by_id: dict[str, Device] = {}
    for d in registry:
        problems += _device_problems(d, types, catalogue, city, by_id)
        by_id[d.device_id] = d
    if problems:
        raise VendorConfigError(source, problems)
    return IotConfig(types, by_id)


def _device_problems(
    d: Device,
    types: Mapping[str, SensorType],
    catalogue: Catalogue,
    city: CityMap,
    seen: Mapping[str, Device],
) -> list[str]:
    at = f"device {d.device_id}"
    if d.device_id in seen:
        return [f"{at}: listed twice"]
    if d.type not in types:
        return [f"{at}: unknown sensor type {d.type!r}"]
    problems = []
    if d.category is not None and d.category not in catalogue:
        problems.append(f"{at}: unknown 小类 {d.category!r}")
    if d.category is None and any(r.category is None for r in types[d.type].metrics.values()):
        problems.append(f"{at}: its type sets no 小类 for every metric, so the device must")
    if city.locate(d.latitude, d.longitude) is None:
        problems.append(f"{at}: ({d.latitude}, {d.longitude}) is outside the city")
    return problems
