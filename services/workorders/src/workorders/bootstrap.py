"""The composition root: the one place that wires workorders together."""

from __future__ import annotations

from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.runtime import ServiceRuntime
from workorders.config import WorkOrdersSettings
from workorders.entrypoints.grpc_api import SERVICE_NAME, WorkOrdersServicer
from workorders.entrypoints.subscriptions import SUBSCRIPTIONS
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

NAME = "workorders"


async def bootstrap(settings: WorkOrdersSettings) -> ServiceRuntime[WorkOrdersUnitOfWork]:
    """Database, NATS, the WORKORDERS stream, consumers and the gRPC server, not yet running."""
    runtime = ServiceRuntime(NAME, settings, WorkOrdersUnitOfWork)
    await runtime.start_infrastructure()
    for sub in SUBSCRIPTIONS:
        await runtime.subscribe(sub.producer, sub.handler, sub.subjects)
    runtime.serve_grpc(
        settings.grpc_port,
        [
            (
                api_grpc.add_WorkOrdersServiceServicer_to_server,
                WorkOrdersServicer(runtime.uow),
                SERVICE_NAME,
            )
        ],
    )
    return runtime
