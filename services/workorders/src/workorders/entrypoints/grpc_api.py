"""gRPC WorkOrdersService: translate requests into commands and orders into
responses. Identity comes from metadata; authorization and every rule live
below, and domain errors become statuses in svckit's interceptor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

from cityops.workorders.v1 import workorders_service_pb2 as api
from cityops.workorders.v1 import workorders_service_pb2_grpc as api_grpc
from svckit.calendars import DepartmentCalendars
from svckit.clock import utcnow
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller, caller_from_metadata
from workorders.adapters import messages
from workorders.domain import commands
from workorders.domain.evidence import EvidenceIntegrityError
from workorders.service_layer import actions, evidence
from workorders.service_layer.ports import EvidenceRules
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

SERVICE_NAME = "cityops.workorders.v1.WorkOrdersService"

K = TypeVar("K")
V = TypeVar("V")


class WorkOrdersServicer(api_grpc.WorkOrdersServiceServicer):
    def __init__(
        self,
        uow: Callable[[], WorkOrdersUnitOfWork],
        evidence_rules: EvidenceRules,
        calendars: DepartmentCalendars,
    ) -> None:
        self._uow = uow
        self._evidence = evidence_rules
        self._calendars = calendars

    async def ListWorkOrders(  # noqa: N802 (gRPC method name)
        self, request: api.ListWorkOrdersRequest, context: Any
    ) -> api.ListWorkOrdersResponse:
        cmd = commands.ListWorkOrders(
            states=tuple(_enum(messages.STATE_FROM_PROTO, s, "state") for s in request.states),
            case_id=request.case_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        page = await actions.list_work_orders(cmd, _caller(context), self._uow())
        now = utcnow()
        return api.ListWorkOrdersResponse(
            work_orders=[
                messages.work_order_message(o, items, now=now, calendars=self._calendars)
                for o, items in page.views
            ],
            next_page_token=page.next_page_token,
        )

    async def GetWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.GetWorkOrderRequest, context: Any
    ) -> api.GetWorkOrderResponse:
        cmd = commands.GetWorkOrder(order_id=request.order_id)
        order, items = await actions.get_work_order(cmd, _caller(context), self._uow())
        return api.GetWorkOrderResponse(
            work_order=messages.work_order_message(
                order, items, now=utcnow(), calendars=self._calendars
            )
        )

    async def AcceptWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.AcceptWorkOrderRequest, context: Any
    ) -> api.AcceptWorkOrderResponse:
        cmd = commands.AcceptWorkOrder(request_id=request.request_id, order_id=request.order_id)
        return await actions.accept_work_order(
            cmd, _caller(context), self._uow(), calendars=self._calendars
        )

    async def CompleteWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.CompleteWorkOrderRequest, context: Any
    ) -> api.CompleteWorkOrderResponse:
        cmd = commands.CompleteWorkOrder(
            request_id=request.request_id,
            order_id=request.order_id,
            note=request.note,
            evidence=messages.evidence_from_proto(request.evidence),
        )
        return await actions.complete_work_order(
            cmd, _caller(context), self._uow(), self._evidence, calendars=self._calendars
        )

    async def ReturnWorkOrder(  # noqa: N802 (gRPC method name)
        self, request: api.ReturnWorkOrderRequest, context: Any
    ) -> api.ReturnWorkOrderResponse:
        cmd = commands.ReturnWorkOrder(
            request_id=request.request_id,
            order_id=request.order_id,
            reason=_enum(messages.REASON_FROM_PROTO, request.reason, "return reason"),
            note=request.note,
        )
        return await actions.return_work_order(
            cmd, _caller(context), self._uow(), calendars=self._calendars
        )

    async def ReportProgress(  # noqa: N802 (gRPC method name)
        self, request: api.ReportProgressRequest, context: Any
    ) -> api.ReportProgressResponse:
        cmd = commands.ReportProgress(
            request_id=request.request_id,
            order_id=request.order_id,
            note=request.note,
            evidence_ids=tuple(request.evidence_ids),
        )
        return await actions.report_progress(
            cmd, _caller(context), self._uow(), calendars=self._calendars
        )

    async def RequestExtension(  # noqa: N802 (gRPC method name)
        self, request: api.RequestExtensionRequest, context: Any
    ) -> api.RequestExtensionResponse:
        cmd = commands.RequestExtension(
            request_id=request.request_id,
            order_id=request.order_id,
            requested_hours=request.requested_hours,
            reason=request.reason,
        )
        return await actions.request_extension(
            cmd, _caller(context), self._uow(), calendars=self._calendars
        )

    async def UploadEvidence(  # noqa: N802 (gRPC method name)
        self, request: api.UploadEvidenceRequest, context: Any
    ) -> api.UploadEvidenceResponse:
        cmd = commands.UploadEvidence(
            request_id=request.request_id,
            order_id=request.order_id,
            file_name=request.file_name,
            media_type=request.media_type,
            content=request.content,
            kind=_enum(messages.KIND_FROM_PROTO, request.kind, "evidence kind"),
        )
        return await evidence.upload_evidence(cmd, _caller(context), self._uow(), self._evidence)

    async def GetEvidence(  # noqa: N802 (gRPC method name)
        self, request: api.GetEvidenceRequest, context: Any
    ) -> api.GetEvidenceResponse:
        cmd = commands.GetEvidence(order_id=request.order_id, evidence_id=request.evidence_id)
        try:
            item, content = await evidence.get_evidence(
                cmd, _caller(context), self._uow(), self._evidence
            )
        except EvidenceIntegrityError as exc:
            # Not a refusal of the request: the stored bytes are lost or altered.
            await context.abort(grpc.StatusCode.DATA_LOSS, str(exc))
            raise  # abort raises; this keeps type checkers honest
        return api.GetEvidenceResponse(
            evidence=messages.evidence_item_message(item), content=content
        )


def _caller(context: Any) -> Caller:
    return caller_from_metadata(context.invocation_metadata())


def _enum(table: Mapping[K, V], value: K, what: str) -> V:
    """A proto enum value this service knows; UNSPECIFIED and unknown values are invalid."""
    try:
        return table[value]
    except KeyError:
        raise InvalidArgumentError(f"a valid {what} is required (got {value})") from None
