"""gRPC `cityops.audit.v1.AuditService`: translates requests to handler calls
and domain objects to protos; domain errors are mapped by svckit's interceptor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from audit.domain.commands import CloseCase, VerifyCase
from audit.domain.model import LedgerEntry
from audit.service_layer import handlers
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import audit_service_pb2_grpc as api_grpc
from cityops.audit.v1 import ledger_pb2
from svckit.grpc.identity import caller_from_metadata

SERVICE_NAME = "cityops.audit.v1.AuditService"


class AuditServicer(api_grpc.AuditServiceServicer):
    """Timeline, ledger verification, 核查 and 结案; the caller comes from metadata."""

    def __init__(self, uow: Callable[[], AuditUnitOfWork]) -> None:
        self._uow = uow

    async def GetTimeline(  # noqa: N802
        self, request: api.GetTimelineRequest, context: aio.ServicerContext
    ) -> api.GetTimelineResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        entries = await handlers.get_timeline(request.case_id, caller, self._uow())
        return api.GetTimelineResponse(entries=[entry_proto(e) for e in entries])

    async def VerifyLedger(  # noqa: N802
        self, request: api.VerifyLedgerRequest, context: aio.ServicerContext
    ) -> api.VerifyLedgerResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        check = await handlers.verify_ledger(self._uow(), caller)
        return api.VerifyLedgerResponse(
            ok=check.ok,
            entries_checked=check.entries_checked,
            first_bad_sequence=check.first_bad_sequence,
            problem=check.problem,
        )

    async def VerifyCase(  # noqa: N802
        self, request: api.VerifyCaseRequest, context: aio.ServicerContext
    ) -> api.VerifyCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = VerifyCase(
            request_id=request.request_id,
            case_id=request.case_id,
            passed=request.passed,
            note=request.note,
        )
        return await handlers.verify_case(cmd, caller, self._uow())

    async def CloseCase(  # noqa: N802
        self, request: api.CloseCaseRequest, context: aio.ServicerContext
    ) -> api.CloseCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = CloseCase(
            request_id=request.request_id,
            case_id=request.case_id,
            reason_code=request.reason_code,
        )
        return await handlers.close_case(cmd, caller, self._uow())


def entry_proto(entry: LedgerEntry) -> ledger_pb2.LedgerEntry:
    return ledger_pb2.LedgerEntry(
        sequence=entry.sequence,
        case_id=entry.case_id,
        event_id=entry.event_id,
        event_type=entry.event_type,
        subject=entry.subject,
        producer=entry.producer,
        occurred_at=_timestamp(entry.occurred_at),
        recorded_at=_timestamp(entry.recorded_at),
        actor_user_id=entry.actor_user_id,
        department_id=entry.department_id,
        summary=entry.summary,
        trace_id=entry.trace_id,
        span_id=entry.span_id,
        payload_sha256=entry.payload_sha256,
        entry_hash=entry.entry_hash,
        previous_hash=entry.previous_hash,
    )


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
