"""What dispatch consumes: one durable consumer per producer stream."""

from __future__ import annotations

from functools import partial

from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import handlers
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.messaging.subjects import CASE_FILED
from svckit.runtime import ServiceRuntime


async def subscribe(runtime: ServiceRuntime[DispatchUnitOfWork], reference: ReferenceData) -> None:
    """``dispatch-intake`` on INTAKE, filtered to filed cases (the only intake event routed here)."""
    await runtime.subscribe(
        "intake", partial(handlers.on_case_filed, reference=reference), [CASE_FILED]
    )
