"""Stage clocks after dispatch: 延期 requests and decisions, 挂账, completion and closing.

An approved extension moves the deadline by working time on the
department's calendar and re-plans the timers; 挂账 stops every clock of the
case; the lead's completion ends 处置 and starts 核查; closing (or a merge
into another case) stops everything.
"""

from __future__ import annotations

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.workorders.v1 import events_pb2 as workorder_events
from dispatch.adapters import integration_events as ie
from dispatch.domain import commands
from dispatch.domain.escalation import TimerStatus, current_cycle, replan
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role
from dispatch.domain.oversight import Extension, Pending, backlog, decide_extension
from dispatch.domain.permissions import SUPERVISORS, require_request_id, require_role
from dispatch.domain.stages import Stage, lookup
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.returns import find_assignment
from dispatch.service_layer.timers import schedule_stage
from dispatch.service_layer.tracing import action_span
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.calendars import hours
from svckit.clock import new_id
from svckit.errors import NotFoundError, PermanentError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_BACKLOGGED, EXTENSION_DECIDED

log = get_logger(__name__)


async def on_extension_requested(
    message: workorder_events.WorkOrderExtensionRequested,
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
) -> None:
    """延期申请: kept pending for a supervisor (once per extension id)."""
    if not message.extension_id or message.requested_hours <= 0:
        raise PermanentError("an extension request needs an extension_id and positive hours")
    if await uow.extensions.get(message.extension_id) is not None:
        return
    assignment = await find_assignment(
        uow, message.dispatch_id, message.case_id, message.department_id
    )
    await uow.extensions.save(
        Extension(
            extension_id=message.extension_id,
            case_id=message.case_id,
            dispatch_id=assignment.dispatch_id if assignment else message.dispatch_id,
            order_id=message.order_id,
            department_id=message.department_id,
            requested=hours(message.requested_hours),
            reason=message.reason,
            requested_at=ie.moment(message.requested_at, ctx.clock.now()),
        )
    )
    log.info("extension requested", case_id=message.case_id, extension_id=message.extension_id)


async def decide(
    cmd: commands.DecideExtension, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.DecideExtensionResponse:
    """A supervisor approves (deadline moves, timers re-planned) or denies an extension."""
    require_request_id(cmd.request_id)
    require_role(caller.role, SUPERVISORS, "deciding an extension")
    async with uow:
        prior = await uow.seen("grpc:DecideExtension", cmd.request_id)
        if prior is not None:
            return pb.DecideExtensionResponse.FromString(prior.result or b"")
        extension = await uow.extensions.get(cmd.extension_id)
        if extension is None:
            raise NotFoundError(f"no extension request {cmd.extension_id!r}")
        case = await uow.cases.get(extension.case_id)
        with action_span("dispatch.decide_extension", extension.case_id, _origin(case)):
            assignment = await uow.assignments.get(extension.dispatch_id)
            calendar = ctx.calendar(extension.department_id)
            now = ctx.clock.now()
            decide_extension(
                extension,
                assignment,
                approve=cmd.approve,
                granted_hours=cmd.hours,
                calendar=calendar,
                now=now,
                by=caller.user_id,
                note=cmd.note,
            )
            await uow.extensions.save(extension)
            if assignment is not None and extension.status is Pending.APPROVED:
                await uow.assignments.save(assignment)
                suspended = case is not None and case.state is CaseState.BACKLOGGED
                await rearm(uow, ctx, assignment, suspended=suspended)
            uow.publish(
                ie.extension_decided(extension, caller.to_actor()),
                subject=EXTENSION_DECIDED,
                case_id=extension.case_id,
            )
            response = pb.DecideExtensionResponse(
                extension_id=extension.extension_id, approved=extension.status is Pending.APPROVED
            )
            if extension.new_deadline is not None:
                response.new_deadline.CopyFrom(ie.timestamp(extension.new_deadline))
            uow.remember("grpc:DecideExtension", cmd.request_id, response.SerializeToString())
            await uow.commit()
    log.info(
        "extension decided",
        case_id=extension.case_id,
        extension_id=extension.extension_id,
        approved=response.approved,
        user_id=caller.user_id,
    )
    return response


async def backlog_case(
    cmd: commands.Backlog, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.BacklogResponse:
    """挂账: the case is acknowledged unsolvable for now; every clock of it stops."""
    require_request_id(cmd.request_id)
    require_role(caller.role, SUPERVISORS, "挂账 (backlog)")
    async with uow:
        prior = await uow.seen("grpc:Backlog", cmd.request_id)
        if prior is not None:
            return pb.BacklogResponse.FromString(prior.result or b"")
        case = await uow.cases.get(cmd.case_id, for_update=True)
        if case is None:
            raise NotFoundError(f"dispatch has no case {cmd.case_id!r}")
        with action_span("dispatch.backlog", case.case_id, case.origin_traceparent):
            now = ctx.clock.now()
            suspension = backlog(
                case, now, cmd.reason, by=caller.user_id, suspension_id=new_id("SUS-")
            )
            await uow.suspensions.save(suspension)
            await uow.timers.suspend(case_id=case.case_id)
            await uow.cases.save(case)
            lead = next(
                (
                    a
                    for a in await uow.assignments.for_case(case.case_id)
                    if a.active and a.role is Role.LEAD
                ),
                None,
            )
            event = ie.case_backlogged(
                case, lead.dispatch_id if lead else "", caller.to_actor(), now
            )
            uow.publish(event, subject=CASE_BACKLOGGED, case_id=case.case_id)
            response = pb.BacklogResponse(case_id=case.case_id, backlogged_at=ie.timestamp(now))
            uow.remember("grpc:Backlog", cmd.request_id, response.SerializeToString())
            await uow.commit()
    log.info("case backlogged", case_id=case.case_id, user_id=caller.user_id)
    return response


async def on_completed(
    message: workorder_events.WorkOrderCompleted, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> None:
    """反馈: the department's clock stops; the lead's completion completes the case and starts 核查."""
    assignment = await find_assignment(
        uow, message.dispatch_id, message.case_id, message.department_id
    )
    if assignment is None or not assignment.active:
        log.info("completion of no active dispatch; ignoring", case_id=message.case_id)
        return
    completed_at = ie.moment(message.completed_at, ctx.clock.now())
    assignment.end(AssignmentStatus.COMPLETED, completed_at, "completed")
    await uow.assignments.save(assignment)
    await uow.timers.cancel(case_id=assignment.case_id, dispatch_id=assignment.dispatch_id)
    case = await uow.cases.get(assignment.case_id)
    if assignment.role is not Role.LEAD or case is None or case.state is not CaseState.DISPATCHED:
        return
    case.state, case.updated_at = CaseState.COMPLETED, completed_at
    await uow.timers.cancel(case_id=case.case_id, stage=Stage.DISPOSAL)
    allowed = lookup(ctx.reference.context.deadlines, Stage.VERIFICATION, case.urgency)
    if allowed is not None:
        case.verification_deadline = ctx.calendar().add(completed_at, allowed)
        await schedule_stage(
            uow,
            ctx,
            case_id=case.case_id,
            dispatch_id=assignment.dispatch_id,
            department_id="",
            stage=Stage.VERIFICATION,
            started_at=completed_at,
            deadline=case.verification_deadline,
        )
    await uow.cases.save(case)
    log.info("case completed by its lead", case_id=case.case_id)


async def close(uow: DispatchUnitOfWork, ctx: DispatchContext, case_id: str, why: str) -> None:
    """结案 (or merged away): every clock stops and open shares end."""
    case = await uow.cases.get(case_id)
    if case is None or case.state is CaseState.CLOSED:
        return
    now = ctx.clock.now()
    case.state, case.reason, case.updated_at = CaseState.CLOSED, why, now
    await uow.cases.save(case)
    await uow.timers.cancel(case_id=case_id)
    for assignment in await uow.assignments.for_case(case_id):
        if assignment.active:
            assignment.end(AssignmentStatus.SUPERSEDED, now, why)
            await uow.assignments.save(assignment)
    log.info("case closed for dispatch", case_id=case_id, why=why)


async def rearm(
    uow: DispatchUnitOfWork, ctx: DispatchContext, assignment: Assignment, *, suspended: bool
) -> None:
    """A share's 处置 deadline moved: re-plan its timers from what already fired this run.

    For a case in 挂账 the new timers wait SUSPENDED, to move when it resumes.
    """
    history = [
        t
        for t in await uow.timers.of(case_id=assignment.case_id, dispatch_id=assignment.dispatch_id)
        if t.stage is Stage.DISPOSAL
    ]
    cycle = current_cycle(history)
    started_at = cycle[0].started_at if cycle else assignment.dispatched_at
    await uow.timers.cancel(
        case_id=assignment.case_id, dispatch_id=assignment.dispatch_id, stage=Stage.DISPOSAL
    )
    await schedule_stage(
        uow,
        ctx,
        case_id=assignment.case_id,
        dispatch_id=assignment.dispatch_id,
        department_id=assignment.department_id,
        stage=Stage.DISPOSAL,
        started_at=started_at,
        deadline=assignment.deadline,
        firings=replan(
            ctx.policy,
            ctx.calendar(assignment.department_id),
            cycle,
            started_at=started_at,
            deadline=assignment.deadline,
        ),
        status=TimerStatus.SUSPENDED if suspended else TimerStatus.PENDING,
    )


def _origin(case: CaseFile | None) -> str:
    return case.origin_traceparent if case else ""
