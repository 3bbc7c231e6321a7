"""Events in: one handler per producer stream, routing each event type to its use case.

Event handlers run inside the pull worker's transaction (it writes the
inbox row and commits); they never commit themselves. An event that cannot
mean anything to dispatch is a ``PermanentError`` (dead-lettered).
"""

from __future__ import annotations

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from dispatch.adapters import integration_events as ie
from dispatch.domain.model import CaseFile, CaseState
from dispatch.service_layer import clocks, retiming, returns, routing
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent

log = get_logger(__name__)


WORK_ORDER_EVENTS = (
    workorder_events.WorkOrderReturned,
    workorder_events.WorkOrderExtensionRequested,
    workorder_events.WorkOrderCompleted,
    workorder_events.WorkOrderReopened,
)


async def prepare_batch(events: list[IncomingEvent], uow: DispatchUnitOfWork) -> None:
    """Before a fetched batch: its cases in one query (see `CaseRepository.preload`),
    and the assignments its work-order events name, in another (one `get` each)."""
    await uow.cases.preload(e.case_id for e in events)
    await uow.assignments.preload(
        e.message.dispatch_id for e in events if isinstance(e.message, WORK_ORDER_EVENTS)
    )


async def on_intake_event(
    event: IncomingEvent, uow: DispatchUnitOfWork, *, ctx: DispatchContext
) -> None:
    message = event.message
    if isinstance(message, intake_events.CaseFiled):
        await on_case_filed(event, uow, ctx=ctx)
    elif isinstance(message, intake_events.CaseReclassified):
        await on_case_reclassified(message, uow, ctx=ctx)
    elif isinstance(message, intake_events.CaseMerged):
        await clocks.close(uow, ctx, message.case_id, f"merged into {message.duplicate_of}")
    elif isinstance(message, intake_events.CaseUrgencyChanged):
        await retiming.on_urgency_changed(message, uow, ctx)
    else:
        raise PermanentError(f"dispatch does not handle {event.type}")


async def on_case_filed(
    event: IncomingEvent, uow: DispatchUnitOfWork, *, ctx: DispatchContext
) -> None:
    """立案 → 派遣: open the case once and route it (the worker commits).

    The inbox already skips a redelivered message id; the per-case check here
    also covers the same case filed under another message id, so a case is
    dispatched at most once whatever the delivery history.
    """
    message = event.message
    if not isinstance(message, intake_events.CaseFiled) or not message.case.case_id:
        raise PermanentError(f"expected a CaseFiled with a case_id, got {event.type}")
    filed = message.case
    if await uow.cases.get(filed.case_id) is not None:
        log.info("case already opened; ignoring", case_id=filed.case_id)
        return
    now = ctx.clock.now()
    case = CaseFile(
        case_id=filed.case_id,
        category_code=filed.category_code,
        place=routing.locate(ie.place_from(filed.place), ctx.reference.city_map),
        title=filed.title,
        urgency=ie.urgency_name(filed.urgency),
        state=CaseState.UNROUTABLE,
        received_at=now,
        updated_at=now,
        origin_traceparent=event.traceparent,
    )
    uow.cases.add(case)
    await routing.open_case(uow, ctx, case, now)


async def on_case_reclassified(
    message: intake_events.CaseReclassified, uow: DispatchUnitOfWork, *, ctx: DispatchContext
) -> None:
    """A new 小类 for a case dispatch knows: route it again (a case still in triage is not here)."""
    case_id, new = message.case_id, message.new_category_code
    if not case_id or not new:
        raise PermanentError("a reclassification needs case_id and new_category_code")
    case = await uow.cases.get(case_id)
    if case is None:
        log.info("reclassified case was never filed to dispatch; ignoring", case_id=case_id)
        return
    now = ctx.clock.now()
    if message.HasField("case") and message.case.urgency:
        # The shares that stay keep running: they get the new urgency's hours first.
        await retiming.change_urgency(uow, ctx, case, ie.urgency_name(message.case.urgency), now)
    if case.category_code == new:
        await uow.cases.save(case)
        return
    await routing.reclassify(uow, ctx, case, new, now)


async def on_workorders_event(
    event: IncomingEvent, uow: DispatchUnitOfWork, *, ctx: DispatchContext
) -> None:
    message = event.message
    if isinstance(message, workorder_events.WorkOrderReturned):
        await returns.on_returned(message, uow, ctx)
    elif isinstance(message, workorder_events.WorkOrderExtensionRequested):
        await clocks.on_extension_requested(message, uow, ctx)
    elif isinstance(message, workorder_events.WorkOrderCompleted):
        await clocks.on_completed(message, uow, ctx)
    elif isinstance(message, workorder_events.WorkOrderReopened):
        await retiming.on_reopened(message, uow, ctx)
    else:
        raise PermanentError(f"dispatch does not handle {event.type}")


async def on_audit_event(
    event: IncomingEvent, uow: DispatchUnitOfWork, *, ctx: DispatchContext
) -> None:
    message = event.message
    if not isinstance(message, audit_events.CaseClosed):
        raise PermanentError(f"dispatch does not handle {event.type}")
    await clocks.close(uow, ctx, message.case_id or event.case_id, "closed")
