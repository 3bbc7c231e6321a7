"""cityops.dispatch.v1.DispatchService: translates protos to commands and answers back.

Look-ups (WhoWouldReceive, GetDispatch, ListRules, ListQueue) ask no
identity; every mutating call needs the caller's identity in metadata and a
``request_id``. Domain errors become gRPC status codes in svckit's interceptor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date
from typing import Any

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from dispatch.adapters import integration_events as ie
from dispatch.adapters.messages import (
    assignment_message,
    rule_mapping,
    rule_version_message,
    stage_hours_messages,
)
from dispatch.domain import commands
from dispatch.domain.model import Role
from dispatch.domain.oversight import ArbitrationOutcome
from dispatch.service_layer import catalogue, clocks, queues, retiming, returns, routing
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller, caller_from_metadata

SERVICE_NAME = "cityops.dispatch.v1.DispatchService"
OUTCOMES = {
    pb.ARBITRATION_OUTCOME_TERRITORIAL: ArbitrationOutcome.TERRITORIAL,
    pb.ARBITRATION_OUTCOME_DEPARTMENT: ArbitrationOutcome.DEPARTMENT,
}


class DispatchServicer(pb_grpc.DispatchServiceServicer):
    def __init__(self, uow: Callable[[], DispatchUnitOfWork], ctx: DispatchContext) -> None:
        self._uow = uow
        self._ctx = ctx

    async def WhoWouldReceive(  # noqa: N802 (gRPC method name)
        self, request: pb.WhoWouldReceiveRequest, context: Any
    ) -> pb.WhoWouldReceiveResponse:
        if not request.HasField("point"):
            raise InvalidArgumentError("point is required")
        query = commands.WhoWouldReceive(
            category_code=request.category_code,
            latitude=request.point.latitude,
            longitude=request.point.longitude,
            at=request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else None,
            urgency=ie.urgency_name(request.urgency),
        )
        found = await routing.who_would_receive(query, self._uow(), self._ctx)
        decision = found.decision
        return pb.WhoWouldReceiveResponse(
            department_id=decision.department_id,
            rule_id=decision.rule_id,
            rule_version=decision.rule_version,
            district_code=found.place.district_code,
            street_code=found.place.street_code,
            grid_code=found.place.grid_code,
            handling_hours=decision.handling_hours,
            assist_department_ids=decision.assist_ids,
            manual=decision.manual,
            stage_hours=stage_hours_messages({query.urgency: decision.stage_hours}),
            closing_criteria_zh=decision.closing_criteria_zh,
            closing_criteria_en=decision.closing_criteria_en,
        )

    async def GetDispatch(  # noqa: N802 (gRPC method name)
        self, request: pb.GetDispatchRequest, context: Any
    ) -> pb.GetDispatchResponse:
        case, assignments = await routing.get_dispatch(
            commands.GetDispatch(request.case_id), self._uow()
        )
        lead = [a for a in assignments if a.role is Role.LEAD][-1]
        return pb.GetDispatchResponse(
            case_id=case.case_id,
            dispatch_id=lead.dispatch_id,
            department_id=lead.department_id,
            dispatched_at=ie.timestamp(lead.dispatched_at),
            deadline=ie.timestamp(lead.deadline),
            rule_id=lead.rule_id,
            rule_version=lead.rule_version,
            state=case.state.value,
            attempt=case.attempt,
            assignments=[assignment_message(a) for a in assignments],
            returned_by_department_ids=case.returned_by,
            team_id=lead.team_id,
        )

    async def ListRules(  # noqa: N802 (gRPC method name)
        self, request: pb.ListRulesRequest, context: Any
    ) -> pb.ListRulesResponse:
        query = commands.ListRules(request.rule_id, request.include_history)
        listed = await catalogue.list_rules(query, self._uow())
        return pb.ListRulesResponse(
            rules=[rule_version_message(item.version, item.period) for item in listed]
        )

    async def UpsertRule(  # noqa: N802 (gRPC method name)
        self, request: pb.UpsertRuleRequest, context: Any
    ) -> pb.UpsertRuleResponse:
        cmd = commands.UpsertRule(request.request_id, rule_mapping(request.rule))
        return await catalogue.upsert_rule(cmd, _caller(context), self._uow(), self._ctx)

    async def RetireRule(  # noqa: N802 (gRPC method name)
        self, request: pb.RetireRuleRequest, context: Any
    ) -> pb.RetireRuleResponse:
        cmd = commands.RetireRule(
            request.request_id, request.rule_id, _date(request.effective_to, "effective_to")
        )
        return await catalogue.retire_rule(cmd, _caller(context), self._uow(), self._ctx)

    async def DispatchManually(  # noqa: N802 (gRPC method name)
        self, request: pb.DispatchManuallyRequest, context: Any
    ) -> pb.DispatchManuallyResponse:
        cmd = commands.DispatchManually(
            request_id=request.request_id,
            case_id=request.case_id,
            department_id=request.department_id,
            assist_department_ids=tuple(request.assist_department_ids),
            note=request.note,
        )
        return await routing.dispatch_manually(cmd, _caller(context), self._uow(), self._ctx)

    async def Arbitrate(  # noqa: N802 (gRPC method name)
        self, request: pb.ArbitrateRequest, context: Any
    ) -> pb.ArbitrateResponse:
        if request.outcome not in OUTCOMES:
            raise InvalidArgumentError("outcome must be TERRITORIAL or DEPARTMENT")
        cmd = commands.Arbitrate(
            request_id=request.request_id,
            case_id=request.case_id,
            outcome=OUTCOMES[request.outcome],
            department_id=request.department_id,
            note=request.note,
        )
        return await returns.arbitrate(cmd, _caller(context), self._uow(), self._ctx)

    async def DecideExtension(  # noqa: N802 (gRPC method name)
        self, request: pb.DecideExtensionRequest, context: Any
    ) -> pb.DecideExtensionResponse:
        cmd = commands.DecideExtension(
            request_id=request.request_id,
            extension_id=request.extension_id,
            approve=request.approve,
            hours=request.hours,
            note=request.note,
        )
        return await clocks.decide(cmd, _caller(context), self._uow(), self._ctx)

    async def Backlog(  # noqa: N802 (gRPC method name)
        self, request: pb.BacklogRequest, context: Any
    ) -> pb.BacklogResponse:
        cmd = commands.Backlog(request.request_id, request.case_id, request.reason)
        return await clocks.backlog_case(cmd, _caller(context), self._uow(), self._ctx)

    async def Resume(  # noqa: N802 (gRPC method name)
        self, request: pb.ResumeRequest, context: Any
    ) -> pb.ResumeResponse:
        cmd = commands.Resume(request.request_id, request.case_id, request.note)
        return await retiming.resume_case(cmd, _caller(context), self._uow(), self._ctx)

    async def ListQueue(  # noqa: N802 (gRPC method name)
        self, request: pb.ListQueueRequest, context: Any
    ) -> pb.ListQueueResponse:
        return pb.ListQueueResponse(items=await queues.list_queue(request.queue, self._uow()))


def _caller(context: Any) -> Caller:
    return caller_from_metadata(context.invocation_metadata())


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"{field} must be a date like 2026-01-01") from None
