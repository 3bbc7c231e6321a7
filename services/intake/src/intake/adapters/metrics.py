"""Intake's gauges on the process's Prometheus registry: cases by state and
discarded detections by reason, sampled from the tables (so a rolled-back
batch never counts)."""

from __future__ import annotations

from prometheus_client import Gauge

from svckit.metrics import REGISTRY

CASES = Gauge("cityops_intake_cases", "Cases intake holds, by state.", ["state"], registry=REGISTRY)
DISCARDED = Gauge(
    "cityops_intake_discarded_detections",
    "Detections recorded and discarded, by reason.",
    ["reason"],
    registry=REGISTRY,
)


def show(cases_by_state: dict[str, int], discards_by_reason: dict[str, int]) -> None:
    for state, n in cases_by_state.items():
        CASES.labels(state).set(n)
    for reason, n in discards_by_reason.items():
        DISCARDED.labels(reason).set(n)
