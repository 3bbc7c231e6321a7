"""What other services' events do to orders: dispatches and re-dispatches
create them, 督办 escalations, extension decisions and resuming from 挂账
update them, a failed
verification (返工) reopens them. Each runs in the pull worker's transaction
(which also holds the inbox row); handlers never commit.

An event that arrives for an order that has moved on (a decision for an
extension no longer pending, a cancel of a completed order) is logged and
skipped: it is history, not an error, and dead-lettering it would also drop
the rest of what the event carries.
"""

from __future__ import annotations

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from svckit.clock import new_id, utcnow
from svckit.errors import FailedPreconditionError, InvalidArgumentError, PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import (
    WORKORDER_CANCELLED,
    WORKORDER_CREATED,
    WORKORDER_REOPENED,
)
from workorders.adapters import integration_events as ie
from workorders.domain.model import WorkOrder
from workorders.domain.notifications import NotificationKind
from workorders.domain.states import LIVE, OrderState
from workorders.service_layer.notifications import notify
from workorders.service_layer.ports import Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

log = get_logger(__name__)

MAX_ORDERS_PER_CASE = 500


async def on_dispatch_event(
    event: IncomingEvent, uow: WorkOrdersUnitOfWork, notifier: Notifier
) -> None:
    """The DISPATCH stream: one durable consumer, routed by message type."""
    msg = event.message
    if isinstance(msg, dispatch_events.CaseDispatched):
        await create_order(msg, event.traceparent, uow, notifier)
    elif isinstance(msg, dispatch_events.CaseRedispatched):
        await on_case_redispatched(msg, event.traceparent, uow, notifier)
    elif isinstance(msg, dispatch_events.CaseEscalated):
        await on_case_escalated(msg, uow, notifier)
    elif isinstance(msg, dispatch_events.ExtensionDecided):
        await on_extension_decided(msg, uow)
    elif isinstance(msg, dispatch_events.CaseResumed):
        await on_case_resumed(msg, uow)
    else:
        raise PermanentError(f"workorders cannot handle {event.type} from dispatch")


async def create_order(
    msg: dispatch_events.CaseDispatched,
    traceparent: str,
    uow: WorkOrdersUnitOfWork,
    notifier: Notifier,
) -> WorkOrder | None:
    """One order per dispatch and per (case, department, role, attempt): a
    dispatch seen before (even under a new event id) is skipped."""
    dispatch = ie.dispatch_from_event(msg, traceparent)
    if dispatch.dispatch_id and await uow.orders.get_by_dispatch(dispatch.dispatch_id):
        log.info("dispatch already has an order", case_id=msg.case_id, dispatch_id=msg.dispatch_id)
        return None
    try:
        order = WorkOrder.from_dispatch(dispatch, order_id=new_id("WO-"), now=utcnow())
    except InvalidArgumentError as exc:
        raise PermanentError(str(exc)) from exc
    twin = await uow.orders.get_by_key(
        order.case_id, order.department_id, order.role, order.attempt
    )
    if twin is not None:
        log.warning(
            "a second dispatch for the same department, role and attempt is ignored",
            case_id=order.case_id,
            dispatch_id=order.dispatch_id,
            order_id=twin.order_id,
        )
        return None
    uow.orders.add(order)
    uow.publish(ie.created(order), subject=WORKORDER_CREATED, case_id=order.case_id)
    notify(uow, notifier, order, NotificationKind.ORDER_CREATED, order.created_at)
    log.info(
        "work order created",
        case_id=order.case_id,
        order_id=order.order_id,
        department_id=order.department_id,
        role=order.role.value,
        attempt=order.attempt,
    )
    return order


async def on_case_redispatched(
    msg: dispatch_events.CaseRedispatched,
    traceparent: str,
    uow: WorkOrdersUnitOfWork,
    notifier: Notifier,
) -> None:
    """A new order for the new dispatch; the previous department's order, if
    still live, is cancelled and announced, so the department's systems stop
    work on it (a RETURNED one stays RETURNED: its return is why the case
    moved)."""
    if not msg.HasField("dispatch"):
        raise PermanentError("a re-dispatch without its dispatch")
    await create_order(msg.dispatch, traceparent, uow, notifier)
    previous = await _previous_order(msg, uow)
    if previous is None or previous.state not in LIVE:
        return
    was = previous.state
    previous.cancel(utcnow(), reason=msg.reason or "re-dispatched")
    await uow.orders.save(previous)
    uow.publish(
        ie.cancelled(previous, was, superseded_by=msg.dispatch.dispatch_id),
        subject=WORKORDER_CANCELLED,
        case_id=previous.case_id,
    )
    log.info(
        "work order cancelled by re-dispatch",
        case_id=previous.case_id,
        order_id=previous.order_id,
        department_id=previous.department_id,
    )


async def _previous_order(
    msg: dispatch_events.CaseRedispatched, uow: WorkOrdersUnitOfWork
) -> WorkOrder | None:
    if msg.previous_dispatch_id:
        return await uow.orders.get_by_dispatch(msg.previous_dispatch_id)
    if not msg.previous_department_id:
        return None
    live = await uow.orders.find(
        department_id=msg.previous_department_id,
        case_id=msg.dispatch.case_id,
        states=tuple(LIVE),
        limit=MAX_ORDERS_PER_CASE,
    )
    return live[-1] if live else None


async def on_case_escalated(
    msg: dispatch_events.CaseEscalated, uow: WorkOrdersUnitOfWork, notifier: Notifier
) -> None:
    """督办: the order shows its highest level; its department hears of each new one."""
    order = await uow.orders.get_by_dispatch(msg.dispatch_id) if msg.dispatch_id else None
    if order is None:
        log.warning(
            "escalation for a dispatch without an order",
            case_id=msg.case_id,
            dispatch_id=msg.dispatch_id,
        )
        return
    now = utcnow()
    if not order.escalate(msg.level, now):
        return
    await uow.orders.save(order)
    if order.state in LIVE:
        extra = {"escalation": {"level": msg.level, "stage": msg.stage, "kind": _kind(msg)}}
        notify(uow, notifier, order, NotificationKind.ORDER_ESCALATED, now, extra)
    log.info(
        "work order escalated", case_id=order.case_id, order_id=order.order_id, level=msg.level
    )


def _kind(msg: dispatch_events.CaseEscalated) -> str:
    return dispatch_events.EscalationKind.Name(msg.kind).removeprefix("ESCALATION_KIND_").lower()


async def on_extension_decided(
    msg: dispatch_events.ExtensionDecided, uow: WorkOrdersUnitOfWork
) -> None:
    """Back to the working state the order was in; a new deadline if approved."""
    order = await uow.orders.get(msg.order_id) if msg.order_id else None
    if order is None:
        raise PermanentError(f"extension decided for unknown work order {msg.order_id!r}")
    try:
        order.decide_extension(
            msg.extension_id,
            approved=msg.approved,
            new_deadline=ie.timestamp_or_none(msg, "new_deadline"),
        )
    except FailedPreconditionError as exc:
        log.warning("stale extension decision skipped", case_id=order.case_id, reason=str(exc))
        return
    await uow.orders.save(order)
    log.info(
        "extension decided",
        case_id=order.case_id,
        order_id=order.order_id,
        approved=msg.approved,
        state=order.state.value,
    )


async def on_case_resumed(msg: dispatch_events.CaseResumed, uow: WorkOrdersUnitOfWork) -> None:
    """Out of 挂账: each live order of a moved share takes its new deadline (by dispatch id)."""
    for moved in msg.moved:
        deadline = ie.timestamp_or_none(moved, "deadline")
        order = await uow.orders.get_by_dispatch(moved.dispatch_id) if moved.dispatch_id else None
        if order is None or deadline is None:
            log.warning(
                "resumed deadline for a dispatch without an order",
                case_id=msg.case_id,
                dispatch_id=moved.dispatch_id,
            )
            continue
        if not order.move_deadline(deadline):
            continue
        await uow.orders.save(order)
        log.info(
            "work order deadline moved: case resumed from 挂账",
            case_id=order.case_id,
            order_id=order.order_id,
            deadline=deadline.isoformat(),
        )


async def on_audit_event(
    event: IncomingEvent, uow: WorkOrdersUnitOfWork, notifier: Notifier
) -> None:
    """返工: every COMPLETED order of the case is reopened and announced."""
    msg = event.message
    if not isinstance(msg, audit_events.CaseRework):
        raise PermanentError(f"workorders cannot handle {event.type} from audit")
    completed = await uow.orders.find(
        department_id=None,
        case_id=msg.case_id,
        states=(OrderState.COMPLETED,),
        limit=MAX_ORDERS_PER_CASE,
    )
    if not completed:
        log.warning("rework for a case without completed orders", case_id=msg.case_id)
    now = utcnow()
    for order in completed:
        order.reopen(now, reason=msg.note)
        await uow.orders.save(order)
        uow.publish(
            ie.reopened(order, msg.verification_id),
            subject=WORKORDER_REOPENED,
            case_id=order.case_id,
        )
        notify(uow, notifier, order, NotificationKind.ORDER_REOPENED, now, {"reason": msg.note})
        log.info("work order reopened", case_id=order.case_id, order_id=order.order_id)
