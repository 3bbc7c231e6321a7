"""IntakeService over gRPC: translate requests to commands and cases to protos.

Domain errors raised below are mapped to status codes by svckit's interceptor.
"""

from __future__ import annotations

from collections.abc import Callable

from grpc import aio

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as pb
from cityops.intake.v1 import intake_service_pb2_grpc as pb_grpc
from intake.adapters.case_protos import (
    REASON_FROM_PROTO,
    STATE_FROM_PROTO,
    case_to_proto,
    discard_to_proto,
)
from intake.domain.commands import (
    FileByHand,
    FileTriaged,
    MergeCase,
    ReclassifyCase,
    RejectCase,
    SetUrgency,
)
from intake.domain.filing import Reference
from intake.domain.model import CasePage, CaseState
from intake.domain.rules import page_query, page_window
from intake.service_layer import actions, queries
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import caller_from_metadata

SERVICE_NAME = "cityops.intake.v1.IntakeService"


def _token(page: CasePage) -> str:
    return "" if page.next_offset is None else str(page.next_offset)


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
        return await actions.create_case(cmd, caller, self._uow(), self._ref)

    async def GetCase(  # noqa: N802
        self, request: pb.GetCaseRequest, context: aio.ServicerContext
    ) -> pb.GetCaseResponse:
        case = await queries.get_case(request.case_id, self._uow())
        return pb.GetCaseResponse(case=case_to_proto(case))

    async def ListCases(  # noqa: N802
        self, request: pb.ListCasesRequest, context: aio.ServicerContext
    ) -> pb.ListCasesResponse:
        try:
            states = tuple(STATE_FROM_PROTO[s] for s in request.states)
        except KeyError as exc:
            raise InvalidArgumentError(f"unknown case state {exc.args[0]}") from exc
        query = page_query(states, request.page_size, request.page_token)
        page = await queries.list_cases(query, self._uow())
        return pb.ListCasesResponse(
            cases=[case_to_proto(c) for c in page.cases],
            next_page_token=_token(page),
            total_size=page.total,
        )

    async def ListTriageQueue(  # noqa: N802
        self, request: pb.ListTriageQueueRequest, context: aio.ServicerContext
    ) -> pb.ListTriageQueueResponse:
        query = page_query(
            (CaseState.TRIAGE,), request.page_size, request.page_token, oldest_first=True
        )
        page = await queries.list_cases(query, self._uow())
        return pb.ListTriageQueueResponse(
            cases=[case_to_proto(c) for c in page.cases],
            next_page_token=_token(page),
            total_size=page.total,
        )

    async def ListDiscardedDetections(  # noqa: N802
        self, request: pb.ListDiscardedDetectionsRequest, context: aio.ServicerContext
    ) -> pb.ListDiscardedDetectionsResponse:
        limit, offset = page_window(request.page_size, request.page_token)
        found, total = await queries.list_discards(offset, limit, self._uow())
        end = offset + len(found)
        return pb.ListDiscardedDetectionsResponse(
            detections=[discard_to_proto(d) for d in found],
            next_page_token=str(end) if end < total else "",
            total_size=total,
        )

    async def FileCase(  # noqa: N802
        self, request: pb.FileCaseRequest, context: aio.ServicerContext
    ) -> pb.FileCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = FileTriaged(request.request_id, request.case_id, request.note)
        return await actions.file_case(cmd, caller, self._uow())

    async def RejectCase(  # noqa: N802
        self, request: pb.RejectCaseRequest, context: aio.ServicerContext
    ) -> pb.RejectCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        reason = REASON_FROM_PROTO.get(request.reason)
        if reason is None and request.reason != case_pb2.REJECT_REASON_UNSPECIFIED:
            raise InvalidArgumentError(f"unknown reject reason {request.reason}")
        cmd = RejectCase(request.request_id, request.case_id, reason, request.note)
        return await actions.reject_case(cmd, caller, self._uow())

    async def MergeCase(  # noqa: N802
        self, request: pb.MergeCaseRequest, context: aio.ServicerContext
    ) -> pb.MergeCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = MergeCase(request.request_id, request.case_id, request.duplicate_of, request.note)
        return await actions.merge_case(cmd, caller, self._uow())

    async def ReclassifyCase(  # noqa: N802
        self, request: pb.ReclassifyCaseRequest, context: aio.ServicerContext
    ) -> pb.ReclassifyCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = ReclassifyCase(
            request.request_id, request.case_id, request.category_code, request.note
        )
        return await actions.reclassify_case(cmd, caller, self._uow(), self._ref)

    async def SetUrgency(  # noqa: N802
        self, request: pb.SetUrgencyRequest, context: aio.ServicerContext
    ) -> pb.SetUrgencyResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = SetUrgency(request.request_id, request.case_id, int(request.urgency), request.note)
        return await actions.set_urgency(cmd, caller, self._uow())
