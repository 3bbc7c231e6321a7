"""督办 timers: scheduling a stage's escalations, and firing the ones that are due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from dispatch.adapters.integration_events import case_escalated
from dispatch.domain.escalation import Firing, Timer, TimerStatus, after, plan
from dispatch.domain.stages import Stage
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.clock import new_id
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_ESCALATED

log = get_logger(__name__)


async def schedule_stage(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    *,
    case_id: str,
    dispatch_id: str,
    department_id: str,
    stage: Stage,
    started_at: datetime,
    deadline: datetime,
    firings: Sequence[Firing] | None = None,
    status: TimerStatus = TimerStatus.PENDING,
) -> None:
    """Durable timers for a stage (by default its warning and breach), in this transaction.

    ``status`` SUSPENDED plans them for a case in 挂账 (armed when it resumes).
    """
    if firings is None:
        calendar = ctx.calendar(department_id)
        firings = plan(ctx.policy, calendar, started_at=started_at, deadline=deadline)
    for firing in firings:
        uow.timers.add(
            Timer(
                timer_id=new_id(),
                case_id=case_id,
                dispatch_id=dispatch_id,
                department_id=department_id,
                stage=stage,
                kind=firing.kind,
                level=firing.level,
                fire_at=firing.fire_at,
                started_at=started_at,
                deadline=deadline,
                status=status,
            )
        )


async def fire_due(
    uow_factory: Callable[[], DispatchUnitOfWork], ctx: DispatchContext, *, limit: int = 100
) -> int:
    """Claim the timers due now, publish one ``CaseEscalated`` each, schedule the next level.

    One transaction: the claim (row locks on PostgreSQL), the outbox rows and
    the next timers commit together, so an escalation is neither lost nor
    sent twice, whichever replica runs it and whenever it restarts.
    """
    now = ctx.clock.now()
    async with uow_factory() as uow:
        due = await uow.timers.claim_due(now, limit)
        for timer in due:
            timer.status, timer.fired_at = TimerStatus.FIRED, now
            await uow.timers.save(timer)
            uow.publish(case_escalated(timer, now), subject=CASE_ESCALATED, case_id=timer.case_id)
            following = after(ctx.policy, ctx.calendar(timer.department_id), timer)
            if following is not None:
                await schedule_stage(
                    uow,
                    ctx,
                    case_id=timer.case_id,
                    dispatch_id=timer.dispatch_id,
                    department_id=timer.department_id,
                    stage=timer.stage,
                    started_at=timer.started_at,
                    deadline=timer.deadline,
                    firings=[following],
                )
            log.warning(
                "case escalated",
                case_id=timer.case_id,
                dispatch_id=timer.dispatch_id,
                department_id=timer.department_id,
                stage=timer.stage.value,
                kind=timer.kind.value,
                level=timer.level,
            )
        await uow.commit()
    return len(due)
