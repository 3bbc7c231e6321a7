"""IoT rules: thresholds with hysteresis (a flapping sensor raises once) and the
device registry, validated against the catalogue and the city."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detection.bootstrap import Reference
from detection.domain import iot
from detection.domain.iot import AlarmState, Direction, MetricRule, Transition
from detection.domain.problems import InvalidReportError
from detection.domain.vendors import VendorConfigError

T0 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
GAS = MetricRule(unit="ppm", category="E0403", raise_at=50, clear_at=20)
PRESSURE = MetricRule(
    unit="MPa", category="E0402", direction=Direction.FALLING, raise_at=0.15, clear_at=0.22
)


def run(rule: MetricRule, values: list[float]) -> list[Transition]:
    state = AlarmState("dev", "metric")
    seen = []
    for i, value in enumerate(values):
        state, transition = state.apply(rule, value, T0 + timedelta(seconds=i))
        seen.append(transition)
    return seen


def test_a_flapping_sensor_raises_once_until_it_clears() -> None:
    values = [10, 55, 45, 60, 49, 51, 30, 21, 19, 55]
    transitions = run(GAS, values)
    assert transitions.count(Transition.RAISE) == 2
    assert transitions.index(Transition.RAISE) == 1
    assert transitions.index(Transition.CLEAR) == 8  # only at or below clear_at (20)
    assert transitions[-1] is Transition.RAISE


def test_a_falling_metric_raises_on_a_drop_and_clears_on_recovery() -> None:
    assert run(PRESSURE, [0.3, 0.14, 0.2, 0.1, 0.22, 0.3]) == [
        Transition.HOLD,
        Transition.RAISE,
        Transition.HOLD,
        Transition.HOLD,
        Transition.CLEAR,
        Transition.HOLD,
    ]


def test_the_state_remembers_the_last_reading_and_refuses_older_ones() -> None:
    state, _ = AlarmState("dev", "gas_ppm").apply(GAS, 80, T0)
    state = AlarmState(**{**state.__dict__, "detection_id": "d-1"})
    assert state.raised and state.last_value == 80 and state.last_reading_at == T0
    assert state.is_stale(T0) and state.is_stale(T0 - timedelta(seconds=1))
    assert not state.is_stale(T0 + timedelta(milliseconds=1))
    cleared, transition = state.apply(GAS, 5, T0 + timedelta(seconds=1))
    assert transition is Transition.CLEAR and not cleared.raised and cleared.detection_id == ""


@pytest.mark.parametrize(
    ("direction", "raise_at", "clear_at"),
    [(Direction.RISING, 50, 50), (Direction.RISING, 50, 60), (Direction.FALLING, 0.2, 0.1)],
)
def test_thresholds_without_a_hysteresis_band_are_refused(
    direction: Direction, raise_at: float, clear_at: float
) -> None:
    with pytest.raises(ValueError, match="clear_at"):
        MetricRule(unit="x", direction=direction, raise_at=raise_at, clear_at=clear_at)


def test_the_shipped_rules_and_devices_load(reference: Reference) -> None:
    config = reference.iot
    assert {"gas", "water_level", "manhole", "pipe_pressure"} <= set(config.sensor_types)
    manhole = config.device("mh-hb-0001")
    assert config.rule(manhole, "tilt_deg") is not None
    assert config.rule(manhole, "battery_v") is None
    with pytest.raises(InvalidReportError):
        config.device("nobody")


def test_a_raised_alarm_reports_its_reading(reference: Reference) -> None:
    device = reference.iot.device("mh-hb-0001")
    rule = reference.iot.rule(device, "tilt_deg")
    assert rule is not None
    report = iot.detection_report(device, "tilt_deg", rule, 14.5, T0, "a" * 64)
    assert report.category_code == "C0101"  # the device's own 小类 (which cover)
    assert report.component_id == "C0101-HB-000123"
    assert report.source_event_id == f"tilt_deg@{T0.isoformat()}"
    assert report.reading is not None and report.reading.threshold == 10
    assert report.source_kind == "iot" and report.source_code == "tilt_deg"


def _config(rules: Any, devices: Any, reference: Reference) -> iot.IotConfig:
    return iot.iot_config(
        rules,
        devices,
        source="test",
        catalogue=reference.policy.catalogue,
        city=reference.policy.city,
    )


def test_a_broken_configuration_lists_every_problem(reference: Reference) -> None:
    rules = {
        "sensor_types": {
            "gas": {"metrics": {"gas_ppm": {"unit": "ppm", "raise_at": 5, "clear_at": 1}}},
            "odd": {
                "metrics": {"x": {"unit": "", "category": "Z9999", "raise_at": 2, "clear_at": 1}}
            },
        }
    }
    devices = {
        "devices": [
            {"device_id": "a", "type": "gas", "latitude": 31.24, "longitude": 121.49},
            {"device_id": "b", "type": "nope", "latitude": 31.24, "longitude": 121.49},
            {"device_id": "c", "type": "odd", "latitude": 39.9, "longitude": 116.4},
            {"device_id": "c", "type": "odd", "latitude": 31.24, "longitude": 121.49},
        ]
    }
    with pytest.raises(VendorConfigError) as caught:
        _config(rules, devices, reference)
    text = "\n".join(caught.value.problems)
    assert "Z9999" in text
    assert "device a: its type sets no 小类" in text
    assert "device b: unknown sensor type" in text
    assert "device c: (39.9, 116.4) is outside the city" in text
    assert "device c: listed twice" in text
    with pytest.raises(VendorConfigError, match="device_id"):
        _config(rules, {"devices": [{"device_id": "a:b", "type": "gas"}]}, reference)


def test_readings_must_be_numbers() -> None:
    assert iot.reading_values({"gas_ppm": 3, "t": 1.5}) == {"gas_ppm": 3.0, "t": 1.5}
    for bad in ({"gas_ppm": "3"}, {"gas_ppm": True}, {"gas_ppm": None}, {"x": float("inf")}):
        with pytest.raises(InvalidReportError):
            iot.reading_values(bad)
