"""cityops.dispatch.v1.DispatchService: translates protos to queries and answers back.

Both RPCs are read-only look-ups of reference data and recorded decisions, so
they take no ``request_id`` and ask no caller identity; domain errors become
gRPC status codes in svckit's interceptor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from grpc import aio

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from dispatch.adapters.integration_events import timestamp
from dispatch.domain import commands
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import handlers
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import InvalidArgumentError

SERVICE_NAME = "cityops.dispatch.v1.DispatchService"


class DispatchServicer(pb_grpc.DispatchServiceServicer):
    def __init__(self, uow: Callable[[], DispatchUnitOfWork], reference: ReferenceData) -> None:
        self._uow = uow
        self._reference = reference

    async def WhoWouldReceive(  # noqa: N802 (gRPC method name)
        self, request: pb.WhoWouldReceiveRequest, context: aio.ServicerContext
    ) -> pb.WhoWouldReceiveResponse:
        if not request.HasField("point"):
            raise InvalidArgumentError("point is required")
        query = commands.WhoWouldReceive(
            category_code=request.category_code,
            latitude=request.point.latitude,
            longitude=request.point.longitude,
            at=request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else None,
        )
        answer = handlers.who_would_receive(query, self._reference)
        return pb.WhoWouldReceiveResponse(
            department_id=answer.decision.department_id,
            rule_id=answer.decision.rule_id,
            rule_version=answer.decision.rule_version,
            district_code=answer.district_code,
            handling_hours=answer.decision.handling_hours,
        )

    async def GetDispatch(  # noqa: N802 (gRPC method name)
        self, request: pb.GetDispatchRequest, context: aio.ServicerContext
    ) -> pb.GetDispatchResponse:
        record = await handlers.get_dispatch(commands.GetDispatch(request.case_id), self._uow())
        response = pb.GetDispatchResponse(
            case_id=record.case_id,
            dispatch_id=record.dispatch_id,
            department_id=record.department_id,
            dispatched_at=timestamp(record.decided_at),
            rule_id=record.rule_id,
            rule_version=record.rule_version,
        )
        if record.deadline is not None:
            response.deadline.CopyFrom(timestamp(record.deadline))
        return response
