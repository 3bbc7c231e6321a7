"""退单 and 仲裁: a returned case goes to the next department, or to arbitration.

A lead's return excludes that department; the catalogue's fallbacks give
the next one. After ``max_returns`` returns, or with no fallback left, the
case waits for a supervisor's arbitration, which names who takes it
(属地兜底 or a department) and records the working time each returning
department held the case.
"""

from __future__ import annotations

from datetime import datetime

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.workorders.v1 import events_pb2 as workorder_events
from cityops.workorders.v1 import work_order_pb2
from dispatch.adapters import integration_events as ie
from dispatch.adapters.messages import assignment_message
from dispatch.domain import commands
from dispatch.domain.dispatching import assist_replacement, manual_decision, take_return
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role
from dispatch.domain.oversight import (
    Arbitration,
    Pending,
    arbitration_department,
    lost_time,
)
from dispatch.domain.permissions import SUPERVISORS, require_request_id, require_role
from dispatch.domain.stages import Stage
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.routing import open_assignments, team_for
from dispatch.service_layer.timers import schedule_stage
from dispatch.service_layer.tracing import action_span
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.clock import new_id
from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermanentError,
)
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_ARBITRATION_REQUESTED, CASE_REDISPATCHED

log = get_logger(__name__)


async def on_returned(
    message: workorder_events.WorkOrderReturned, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> None:
    """A department returned its order: record it, then re-dispatch or ask for arbitration."""
    assignment = await find_assignment(
        uow, message.dispatch_id, message.case_id, message.department_id
    )
    if assignment is None:
        raise PermanentError(
            f"no dispatch {message.dispatch_id!r} of case {message.case_id} to "
            f"{message.department_id} to return"
        )
    if not assignment.active:
        log.info("return of an ended dispatch; ignoring", case_id=assignment.case_id)
        return
    case = await uow.cases.get(assignment.case_id)
    if case is None:
        raise PermanentError(f"dispatch has no case {assignment.case_id}")
    now = ctx.clock.now()
    returned_at = ie.moment(message.returned_at, now)
    code = work_order_pb2.ReturnReason.Name(message.reason).removeprefix("RETURN_REASON_").lower()
    reason = f"{code}: {message.note}" if message.note else code
    take_return(
        case,
        assignment,
        at=returned_at,
        reason=reason,
        calendar=ctx.calendar(assignment.department_id),
    )
    await uow.assignments.save(assignment)
    await uow.timers.cancel(case_id=case.case_id, dispatch_id=assignment.dispatch_id)
    log.info(
        "work order returned",
        case_id=case.case_id,
        department_id=assignment.department_id,
        role=assignment.role.value,
        reason=reason,
    )
    if case.state is not CaseState.DISPATCHED:
        await uow.cases.save(case)
        return
    if assignment.role is Role.ASSIST:
        await _next_assist(uow, ctx, case, assignment, reason, now)
        return
    await _next_department(uow, ctx, case, assignment, reason, now)


async def _next_assist(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    case: CaseFile,
    returned: Assignment,
    reason: str,
    now: datetime,
) -> None:
    """协办退单: the share goes to the next department of the fallback chain not yet involved.

    Never to the lead, a department already assisting, or one that returned
    any share of the case. With none left the lead carries on without it: an
    assisting share never sends the case to arbitration.
    """
    history = await uow.assignments.for_case(case.case_id)
    lead = next((a for a in history if a.active and a.role is Role.LEAD), None)
    involved = {
        a.department_id for a in history if a.active or a.status is AssignmentStatus.RETURNED
    }
    matrix = await ctx.catalogue.matrix(uow)
    try:
        options = matrix.fallbacks(
            case.category_code, case.place, now, exclude=involved, urgency=case.urgency
        )
    except InvalidArgumentError:
        options = []
    if lead is None or not options:
        await uow.cases.save(case)
        log.info(
            "assisting share returned; no department left to take it",
            case_id=case.case_id,
            department_id=returned.department_id,
        )
        return
    decision = options[0]
    assignment = assist_replacement(
        case,
        returned,
        decision,
        lead_department_id=lead.department_id,
        now=now,
        calendars=ctx.reference.calendars,
        directory=ctx.reference.directory,
        new_id=new_id,
        team_id=await team_for(uow, ctx, decision.department_id),
    )
    uow.assignments.add(assignment)
    await schedule_stage(
        uow,
        ctx,
        case_id=case.case_id,
        dispatch_id=assignment.dispatch_id,
        department_id=assignment.department_id,
        stage=Stage.DISPOSAL,
        started_at=now,
        deadline=assignment.deadline,
    )
    await uow.cases.save(case)
    event = ie.case_redispatched(
        case, assignment, returned, f"returned by {returned.department_id} ({reason})"
    )
    uow.publish(event, subject=CASE_REDISPATCHED, case_id=case.case_id)
    log.info(
        "assisting share re-dispatched",
        case_id=case.case_id,
        department_id=assignment.department_id,
        previous=returned.department_id,
        attempt=assignment.attempt,
    )


async def _next_department(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    case: CaseFile,
    returned: Assignment,
    reason: str,
    now: datetime,
) -> None:
    if case.returns >= ctx.max_returns:
        await _request_arbitration(
            uow, ctx, case, f"returned {case.returns} times (limit {ctx.max_returns})", now
        )
        return
    matrix = await ctx.catalogue.matrix(uow)
    try:
        options = matrix.fallbacks(
            case.category_code, case.place, now, exclude=case.returned_by, urgency=case.urgency
        )
    except InvalidArgumentError:
        options = []
    if not options:
        await _request_arbitration(uow, ctx, case, "no fallback department left", now)
        return
    (assignment,) = await open_assignments(uow, ctx, case, options[0], now=now, lead_only=True)
    event = ie.case_redispatched(
        case, assignment, returned, f"returned by {returned.department_id} ({reason})"
    )
    uow.publish(event, subject=CASE_REDISPATCHED, case_id=case.case_id)
    log.info(
        "case re-dispatched",
        case_id=case.case_id,
        department_id=assignment.department_id,
        attempt=assignment.attempt,
        excluded=case.returned_by,
    )


async def _request_arbitration(
    uow: DispatchUnitOfWork, ctx: DispatchContext, case: CaseFile, reason: str, now: datetime
) -> None:
    case.state, case.reason, case.updated_at = CaseState.ARBITRATION, reason, now
    await uow.cases.save(case)
    await uow.arbitrations.save(
        Arbitration(
            arbitration_id=new_id("ARB-"),
            case_id=case.case_id,
            requested_at=now,
            reason=reason,
            returned_by=list(case.returned_by),
        )
    )
    uow.publish(
        ie.arbitration_requested(case, reason),
        subject=CASE_ARBITRATION_REQUESTED,
        case_id=case.case_id,
    )
    log.warning("arbitration requested", case_id=case.case_id, reason=reason)


async def arbitrate(
    cmd: commands.Arbitrate, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.ArbitrateResponse:
    """A supervisor settles a case: who takes it, and the time each return cost, recorded."""
    require_request_id(cmd.request_id)
    require_role(caller.role, SUPERVISORS, "arbitration")
    async with uow:
        prior = await uow.seen("grpc:Arbitrate", cmd.request_id)
        if prior is not None:
            return pb.ArbitrateResponse.FromString(prior.result or b"")
        case = await uow.cases.get(cmd.case_id, for_update=True)
        if case is None:
            raise NotFoundError(f"dispatch has no case {cmd.case_id!r}")
        with action_span("dispatch.arbitrate", case.case_id, case.origin_traceparent):
            arbitration = await uow.arbitrations.pending_for(case.case_id)
            if arbitration is None or case.state is not CaseState.ARBITRATION:
                raise FailedPreconditionError(f"case {case.case_id} has no pending arbitration")
            department = arbitration_department(
                arbitration, case, cmd.outcome, cmd.department_id, ctx.reference.directory
            )
            now = ctx.clock.now()
            history = await uow.assignments.for_case(case.case_id)
            arbitration.status, arbitration.outcome = Pending.DECIDED, cmd.outcome
            arbitration.department_id, arbitration.note = department, cmd.note
            arbitration.decided_by, arbitration.decided_at = caller.user_id, now
            arbitration.lost = lost_time(history)
            await uow.arbitrations.save(arbitration)
            matrix = await ctx.catalogue.matrix(uow)
            decision = manual_decision(
                matrix,
                case,
                department,
                rule_id="arbitration",
                rule_version=arbitration.arbitration_id,
            )
            (assignment,) = await open_assignments(
                uow, ctx, case, decision, now=now, lead_only=True
            )
            previous = _last_returned_lead(history)
            reason = f"arbitration ({cmd.outcome.value}): {cmd.note}".rstrip(": ")
            event = ie.case_redispatched(case, assignment, previous, reason)
            uow.publish(event, subject=CASE_REDISPATCHED, case_id=case.case_id)
            response = pb.ArbitrateResponse(
                arbitration_id=arbitration.arbitration_id,
                assignment=assignment_message(assignment),
                lost_time=[
                    pb.LostTime(department_id=d, hours=ie.hours_of(t))
                    for d, t in arbitration.lost.items()
                ],
            )
            uow.remember("grpc:Arbitrate", cmd.request_id, response.SerializeToString())
            await uow.commit()
    log.info(
        "case arbitrated", case_id=case.case_id, department_id=department, user_id=caller.user_id
    )
    return response


def _last_returned_lead(history: list[Assignment]) -> Assignment | None:
    returned = [a for a in history if a.role is Role.LEAD and a.status is AssignmentStatus.RETURNED]
    return returned[-1] if returned else None


async def find_assignment(
    uow: DispatchUnitOfWork, dispatch_id: str, case_id: str, department_id: str
) -> Assignment | None:
    """By dispatch id when the event carries it, else the case's active share of that department."""
    if dispatch_id:
        return await uow.assignments.get(dispatch_id)
    for assignment in await uow.assignments.for_case(case_id):
        if assignment.active and assignment.department_id == department_id:
            return assignment
    return None
