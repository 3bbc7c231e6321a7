"""Clocks that start again or change pace: out of 挂账, a rework (返工), a new urgency.

- Resuming a 挂账 case puts it back where it stood; every deadline and
  suspended timer of it moves later by the working time it spent suspended
  (each on its own calendar), so the clock continues where it stopped.
- A rework reopens the share of the department whose work order came back:
  its 处置 clock starts again with the stage's whole allowance, and the case
  leaves 核查.
- A new urgency changes each running share's allowance; its deadline moves
  by the difference, and its timers are re-planned (what fired stays fired).
"""

from __future__ import annotations

from datetime import datetime

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from dispatch.adapters import integration_events as ie
from dispatch.adapters.messages import assignment_message
from dispatch.domain import commands
from dispatch.domain.escalation import TimerStatus, current_cycle, replan
from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import Assignment, AssignmentStatus, CaseFile, CaseState, Role
from dispatch.domain.oversight import after_suspension, resume
from dispatch.domain.permissions import SUPERVISORS, require_request_id, require_role
from dispatch.domain.retiming import allowance, retimed
from dispatch.domain.stages import Stage, lookup
from dispatch.service_layer.clocks import rearm
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.returns import find_assignment
from dispatch.service_layer.timers import schedule_stage
from dispatch.service_layer.tracing import action_span
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import NotFoundError, PermanentError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_RESUMED

log = get_logger(__name__)


async def resume_case(
    cmd: commands.Resume, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.ResumeResponse:
    """A supervisor takes a case out of 挂账; its clocks run again from where they stopped.

    ``CaseResumed`` goes out in the same transaction, so workorders moves its
    orders' deadlines exactly when dispatch moved the shares'.
    """
    require_request_id(cmd.request_id)
    require_role(caller.role, SUPERVISORS, "resuming a case from 挂账")
    async with uow:
        prior = await uow.seen("grpc:Resume", cmd.request_id)
        if prior is not None:
            return pb.ResumeResponse.FromString(prior.result or b"")
        case = await uow.cases.get(cmd.case_id, for_update=True)
        if case is None:
            raise NotFoundError(f"dispatch has no case {cmd.case_id!r}")
        with action_span("dispatch.resume", case.case_id, case.origin_traceparent):
            now = ctx.clock.now()
            suspension = resume(
                case,
                await uow.suspensions.open_for(case.case_id),
                now,
                by=caller.user_id,
                note=cmd.note,
            )
            since = suspension.backlogged_at
            moved = []
            for assignment in await uow.assignments.for_case(case.case_id):
                if assignment.active:
                    calendar = ctx.calendar(assignment.department_id)
                    assignment.deadline = after_suspension(
                        calendar, assignment.deadline, since, now
                    )
                    await uow.assignments.save(assignment)
                    moved.append(assignment)
            for timer in await uow.timers.of(case_id=case.case_id):
                if timer.status is TimerStatus.SUSPENDED:
                    calendar = ctx.calendar(timer.department_id)
                    timer.fire_at = after_suspension(calendar, timer.fire_at, since, now)
                    timer.deadline = after_suspension(calendar, timer.deadline, since, now)
                    timer.status = TimerStatus.PENDING
                    await uow.timers.save(timer)
            await uow.suspensions.save(suspension)
            await uow.cases.save(case)
            suspended = ctx.calendar().between(since, now)
            event = ie.case_resumed(case, suspension, suspended, moved, caller.to_actor())
            uow.publish(event, subject=CASE_RESUMED, case_id=case.case_id)
            response = pb.ResumeResponse(
                case_id=case.case_id,
                state=case.state.value,
                resumed_at=ie.timestamp(now),
                moved=[assignment_message(a) for a in moved],
            )
            uow.remember("grpc:Resume", cmd.request_id, response.SerializeToString())
            await uow.commit()
    log.info(
        "case resumed from 挂账",
        case_id=case.case_id,
        state=case.state.value,
        suspended_since=since.isoformat(),
        suspension_id=suspension.suspension_id,
        user_id=caller.user_id,
    )
    return response


async def on_reopened(
    message: workorder_events.WorkOrderReopened, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> None:
    """返工: the reopened order's share runs a fresh 处置 clock; the lead's takes the case out of 核查."""
    assignment = await find_assignment(
        uow, message.dispatch_id, message.case_id, message.department_id
    )
    case = await uow.cases.get(assignment.case_id) if assignment else None
    if assignment is None or case is None or case.state is CaseState.CLOSED:
        log.info("rework of no open dispatch; ignoring", case_id=message.case_id)
        return
    if assignment.status is not AssignmentStatus.COMPLETED:
        log.info(
            "rework of a share that is not completed; ignoring",
            case_id=case.case_id,
            dispatch_id=assignment.dispatch_id,
            status=assignment.status.value,
        )
        return
    reopened_at = ie.moment(message.reopened_at, ctx.clock.now())
    matrix = await ctx.catalogue.matrix(uow)
    hours = allowance(matrix, case.category_code, assignment, case.urgency)
    if hours is None:
        raise PermanentError(f"case {case.case_id}: no 处置 hours for {case.category_code}")
    calendar = ctx.calendar(assignment.department_id)
    assignment.reopen(calendar.add(reopened_at, hours))
    await uow.assignments.save(assignment)
    await uow.timers.cancel(case_id=case.case_id, dispatch_id=assignment.dispatch_id)
    await schedule_stage(
        uow,
        ctx,
        case_id=case.case_id,
        dispatch_id=assignment.dispatch_id,
        department_id=assignment.department_id,
        stage=Stage.DISPOSAL,
        started_at=reopened_at,
        deadline=assignment.deadline,
    )
    if assignment.role is Role.LEAD and case.state is CaseState.COMPLETED:
        case.state, case.verification_deadline = CaseState.DISPATCHED, None
        await uow.timers.cancel(case_id=case.case_id, stage=Stage.VERIFICATION)
        for other in await uow.assignments.for_case(case.case_id):
            if other.active and other.dispatch_id != assignment.dispatch_id:
                await rearm(uow, ctx, other, suspended=False)  # stopped by the lead's completion
    case.updated_at = reopened_at
    await uow.cases.save(case)
    log.info(
        "share reopened for rework",
        case_id=case.case_id,
        dispatch_id=assignment.dispatch_id,
        department_id=assignment.department_id,
        rework_count=message.rework_count,
        deadline=assignment.deadline.isoformat(),
    )


async def on_urgency_changed(
    message: intake_events.CaseUrgencyChanged, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> None:
    """A new urgency for a case dispatch knows (a case still in triage is not here)."""
    if not message.case_id:
        raise PermanentError("an urgency change needs a case_id")
    case = await uow.cases.get(message.case_id)
    if case is None:
        return
    at = ie.moment(message.changed_at, ctx.clock.now())
    await change_urgency(uow, ctx, case, ie.urgency_name(message.new_urgency), at)
    await uow.cases.save(case)


async def change_urgency(
    uow: DispatchUnitOfWork, ctx: DispatchContext, case: CaseFile, urgency: str, at: datetime
) -> None:
    """Every running clock of the case gets the new urgency's allowance (the caller saves)."""
    if case.urgency == urgency:
        return
    old, case.urgency, case.updated_at = case.urgency, urgency, at
    moved: list[str] = []
    if case.state in (CaseState.DISPATCHED, CaseState.BACKLOGGED):
        matrix = await ctx.catalogue.matrix(uow)
        for assignment in await uow.assignments.for_case(case.case_id):
            if assignment.active and await _retime_share(uow, ctx, matrix, case, assignment, old):
                moved.append(assignment.dispatch_id)
    elif case.state is CaseState.UNROUTABLE:
        await _retime_case_stage(uow, ctx, case, Stage.DISPATCH, old)
    elif case.state is CaseState.COMPLETED and case.verification_deadline is not None:
        case.verification_deadline = await _retime_case_stage(
            uow, ctx, case, Stage.VERIFICATION, old
        )
    log.info("urgency changed", case_id=case.case_id, old=old, new=urgency, retimed=moved)


async def _retime_share(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    matrix: ResponsibilityMatrix,
    case: CaseFile,
    assignment: Assignment,
    old_urgency: str,
) -> bool:
    before = allowance(matrix, case.category_code, assignment, old_urgency)
    after = allowance(matrix, case.category_code, assignment, case.urgency)
    if before is None or after is None or before == after:
        return False
    timers = await uow.timers.of(case_id=case.case_id, dispatch_id=assignment.dispatch_id)
    started = max((t.started_at for t in timers), default=assignment.dispatched_at)
    calendar = ctx.calendar(assignment.department_id)
    assignment.deadline = retimed(calendar, assignment.deadline, before, after, not_before=started)
    await uow.assignments.save(assignment)
    await rearm(uow, ctx, assignment, suspended=case.state is CaseState.BACKLOGGED)
    return True


async def _retime_case_stage(
    uow: DispatchUnitOfWork, ctx: DispatchContext, case: CaseFile, stage: Stage, old_urgency: str
) -> datetime | None:
    """The centre's own stage (派遣 or 核查, city calendar): its new deadline, timers re-planned."""
    deadlines = ctx.reference.context.deadlines
    before, after = lookup(deadlines, stage, old_urgency), lookup(deadlines, stage, case.urgency)
    timers = current_cycle(
        [
            t
            for t in await uow.timers.of(case_id=case.case_id)
            if t.stage is stage and t.status is not TimerStatus.CANCELLED
        ]
    )
    if before is None or after is None or before == after or not timers:
        return case.verification_deadline if stage is Stage.VERIFICATION else None
    calendar = ctx.calendar()
    started, deadline = timers[0].started_at, timers[0].deadline
    deadline = retimed(calendar, deadline, before, after, not_before=started)
    fired = [t for t in timers if t.status is TimerStatus.FIRED]
    await uow.timers.cancel(case_id=case.case_id, stage=stage)
    await schedule_stage(
        uow,
        ctx,
        case_id=case.case_id,
        dispatch_id=timers[0].dispatch_id,
        department_id="",
        stage=stage,
        started_at=started,
        deadline=deadline,
        firings=replan(ctx.policy, calendar, fired, started_at=started, deadline=deadline),
    )
    return deadline
