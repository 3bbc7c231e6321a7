"""Which streams intake consumes, and which handler takes each.

Each consumer takes its producer's whole stream and the handler ignores event
types it does not track: adding a tracked event later needs no consumer
reconfiguration (a durable's filter is fixed when it is created).
"""

from __future__ import annotations

from functools import partial

from intake.domain.filing import Reference
from intake.service_layer import handlers
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.runtime import ServiceRuntime

PROGRESS_PRODUCERS = ("dispatch", "workorders", "audit")


async def subscribe_all(runtime: ServiceRuntime[IntakeUnitOfWork], ref: Reference) -> None:
    """One durable consumer per stream: intake-detection, intake-dispatch, ..."""
    await runtime.subscribe(
        "detection",
        partial(handlers.on_detection_event, ref=ref),
        prepare=handlers.prepare_detections,
    )
    for producer in PROGRESS_PRODUCERS:
        await runtime.subscribe(
            producer, handlers.on_case_progress, prepare=handlers.prepare_progress
        )
