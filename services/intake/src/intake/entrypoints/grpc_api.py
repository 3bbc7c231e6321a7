"""IntakeService over gRPC: translate requests to commands and cases to protos.

Domain errors raised below are mapped to status codes by svckit's interceptor.
"""

from __future__ import annotations

from collections.abc import Callable

from grpc import aio

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import intake_service_pb2 as pb
from cityops.intake.v1 import intake_service_pb2_grpc as pb_grpc
from intake.adapters.integration_events import STATE_FROM_PROTO, case_to_proto
from intake.domain.commands import FileByHand
from intake.domain.filing import Reference
from intake.domain.rules import page_query
from intake.service_layer import handlers
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import caller_from_metadata

SERVICE_NAME = "cityops.intake.v1.IntakeService"


class IntakeServicer(pb_grpc.IntakeServiceServicer):
    def __init__(self, uow: Callable[[], IntakeUnitOfWork], ref: Reference) -> None:
        self._uow = uow
        self._ref = ref

    async def CreateCase(  # noqa: N802 (gRPC method name)
        self, request: pb.CreateCaseRequest, context: aio.ServicerContext
    ) -> pb.CreateCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        has_point = request.HasField("point")
        cmd = FileByHand(
            request_id=request.request_id,
            category_code=request.category_code,
            title=request.title,
            latitude=request.point.latitude if has_point else None,
            longitude=request.point.longitude if has_point else None,
            # A caller who does not say how urgent gets CAP "unknown", not "unspecified".
            urgency=int(request.urgency or common_pb2.URGENCY_UNKNOWN),
        )
        return await handlers.create_case(cmd, caller, self._uow(), self._ref)

    async def GetCase(  # noqa: N802
        self, request: pb.GetCaseRequest, context: aio.ServicerContext
    ) -> pb.GetCaseResponse:
        case = await handlers.get_case(request.case_id, self._uow())
        return pb.GetCaseResponse(case=case_to_proto(case))

    async def ListCases(  # noqa: N802
        self, request: pb.ListCasesRequest, context: aio.ServicerContext
    ) -> pb.ListCasesResponse:
        try:
            states = tuple(STATE_FROM_PROTO[s] for s in request.states)
        except KeyError as exc:
            raise InvalidArgumentError(f"unknown case state {exc.args[0]}") from exc
        query = page_query(states, request.page_size, request.page_token)
        page = await handlers.list_cases(query, self._uow())
        return pb.ListCasesResponse(
            cases=[case_to_proto(c) for c in page.cases],
            next_page_token="" if page.next_offset is None else str(page.next_offset),
            total_size=page.total,
        )
