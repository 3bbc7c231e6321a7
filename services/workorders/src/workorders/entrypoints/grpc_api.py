"""gRPC WorkOrdersService: translate requests into commands and orders into
responses. Identity comes from metadata; authorization and every rule live
below, and domain errors become statuses in svckit's interceptor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as api
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller, caller_from_metadata
from workorders.adapters import integration_events as ie
from workorders.domain import commands
from workorders.domain.states import OrderState
from workorders.service_layer import handlers
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

SERVICE_NAME = "cityops.workorders.v1.WorkOrdersService"


class WorkOrdersServicer(api_grpc.WorkOrdersServiceServicer):
    def __init__(self, uow: Callable[[], WorkOrdersUnitOfWork]) -> None:
        self._uow = uow

    async def ListWorkOrders(  # noqa: N802 (gRPC method name)
        self, request: api.ListWorkOrdersRequest, context: Any
    ) -> api.ListWorkOrdersResponse:
        cmd = commands.ListWorkOrders(
            states=tuple(_state(s) for s in request.states),
            case_id=request.case_id,
            page_size=request.page_size,
        )
        orders = await handlers.list_work_orders(cmd, _caller(context), self._uow())
        return api.ListWorkOrdersResponse(work_orders=[ie.work_order_message(o) for o in orders])

    async def GetWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.GetWorkOrderRequest, context: Any
    ) -> api.GetWorkOrderResponse:
        cmd = commands.GetWorkOrder(order_id=request.order_id)
        order = await handlers.get_work_order(cmd, _caller(context), self._uow())
        return api.GetWorkOrderResponse(work_order=ie.work_order_message(order))

    async def AcceptWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.AcceptWorkOrderRequest, context: Any
    ) -> api.AcceptWorkOrderResponse:
        cmd = commands.AcceptWorkOrder(request_id=request.request_id, order_id=request.order_id)
        return await handlers.accept_work_order(cmd, _caller(context), self._uow())

    async def CompleteWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.CompleteWorkOrderRequest, context: Any
    ) -> api.CompleteWorkOrderResponse:
        cmd = commands.CompleteWorkOrder(
            request_id=request.request_id,
            order_id=request.order_id,
            note=request.note,
            evidence=ie.evidence_from_proto(request.evidence),
        )
        return await handlers.complete_work_order(cmd, _caller(context), self._uow())


def _caller(context: Any) -> Caller:
    return caller_from_metadata(context.invocation_metadata())


def _state(value: work_order_pb2.WorkOrderState.ValueType) -> OrderState:
    try:
        return ie.STATE_FROM_PROTO[value]
    except KeyError:
        raise InvalidArgumentError(f"unknown work order state {value}") from None
