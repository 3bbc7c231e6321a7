"""What the service does: turn dispatches into orders, and carry out the
department's commands under the domain's rules, in one transaction each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message
from opentelemetry import trace

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import workorders_service_pb2 as api
from svckit.clock import new_id, utcnow
from svckit.errors import InvalidArgumentError, NotFoundError, PermanentError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import WORKORDER_ACCEPTED, WORKORDER_COMPLETED, WORKORDER_CREATED
from svckit.telemetry import links_to
from workorders.adapters import integration_events as ie
from workorders.domain import commands, rules
from workorders.domain.model import WorkOrder
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

log = get_logger(__name__)
tracer = trace.get_tracer("workorders")

R = TypeVar("R", api.AcceptWorkOrderResponse, api.CompleteWorkOrderResponse)


async def on_case_dispatched(event: IncomingEvent, uow: WorkOrdersUnitOfWork) -> None:
    """One order per dispatch: a dispatch seen before (even under a new event id) is skipped."""
    msg = event.message
    if not isinstance(msg, dispatch_events.CaseDispatched):
        raise PermanentError(f"workorders cannot handle {event.type} as a dispatch")
    dispatch = ie.dispatch_from_event(msg, event.traceparent)
    if dispatch.dispatch_id and await uow.orders.get_by_dispatch(dispatch.dispatch_id):
        log.info("dispatch already has an order", case_id=msg.case_id, dispatch_id=msg.dispatch_id)
        return
    try:
        order = WorkOrder.from_dispatch(dispatch, order_id=new_id("WO-"), now=utcnow())
    except InvalidArgumentError as exc:
        raise PermanentError(str(exc)) from exc
    uow.orders.add(order)
    uow.publish(ie.created(order), subject=WORKORDER_CREATED, case_id=order.case_id)
    log.info(
        "work order created",
        case_id=order.case_id,
        order_id=order.order_id,
        department_id=order.department_id,
    )


async def list_work_orders(
    cmd: commands.ListWorkOrders, caller: Caller, uow: WorkOrdersUnitOfWork
) -> list[WorkOrder]:
    """A department user sees its own department's orders; overseers see all."""
    scope = rules.read_scope(caller)
    limit = rules.page_size(cmd.page_size)
    async with uow:
        return await uow.orders.find(
            department_id=scope, states=cmd.states, case_id=cmd.case_id, limit=limit
        )


async def get_work_order(
    cmd: commands.GetWorkOrder, caller: Caller, uow: WorkOrdersUnitOfWork
) -> WorkOrder:
    rules.read_scope(caller)  # a role with no read access is refused before any lookup
    async with uow:
        order = await uow.orders.get(cmd.order_id)
    if order is None:
        raise NotFoundError(f"work order {cmd.order_id} not found")
    rules.ensure_visible(caller, order.order_id, order.department_id)
    return order


async def accept_work_order(
    cmd: commands.AcceptWorkOrder, caller: Caller, uow: WorkOrdersUnitOfWork
) -> api.AcceptWorkOrderResponse:
    """签收: CREATED → ACCEPTED, announced with the accepting actor."""

    def apply(order: WorkOrder, now: datetime) -> Message:
        order.accept(caller, now)
        return ie.accepted(order, caller.to_actor())

    return await _act(
        uow,
        caller,
        method="AcceptWorkOrder",
        action="accept",
        request_id=cmd.request_id,
        order_id=cmd.order_id,
        apply=apply,
        subject=WORKORDER_ACCEPTED,
        response_type=api.AcceptWorkOrderResponse,
    )


async def complete_work_order(
    cmd: commands.CompleteWorkOrder, caller: Caller, uow: WorkOrdersUnitOfWork
) -> api.CompleteWorkOrderResponse:
    """反馈: ACCEPTED → COMPLETED with a note and hashed evidence, announced with the actor."""

    def apply(order: WorkOrder, now: datetime) -> Message:
        order.complete(caller, now, note=cmd.note, evidence=cmd.evidence)
        return ie.completed(order, caller.to_actor())

    return await _act(
        uow,
        caller,
        method="CompleteWorkOrder",
        action="complete",
        request_id=cmd.request_id,
        order_id=cmd.order_id,
        apply=apply,
        subject=WORKORDER_COMPLETED,
        response_type=api.CompleteWorkOrderResponse,
    )


async def _act(
    uow: WorkOrdersUnitOfWork,
    caller: Caller,
    *,
    method: str,
    action: str,
    request_id: str,
    order_id: str,
    apply: Callable[[WorkOrder, datetime], Message],
    subject: str,
    response_type: type[R],
) -> R:
    """The shape of every department action: load, authorize, replay a retried
    request_id or apply the rule, publish, remember the response, commit."""
    rules.require_request_id(request_id)
    inbox_key = f"grpc:{method}"
    async with uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            raise NotFoundError(f"work order {order_id} not found")
        with _action_span(f"workorders.{action}", order) as span:
            # Authorize before replaying, so a stored response never reaches another department.
            rules.ensure_may_act(caller, order.department_id, action)
            prior = await uow.seen(inbox_key, request_id)
            if prior is not None:
                span.set_attribute("cityops.replayed", True)
                return _replay(response_type, prior.result, request_id, order_id)
            event = apply(order, utcnow())
            await uow.orders.save(order)
            uow.publish(event, subject=subject, case_id=order.case_id)
            response = response_type(work_order=ie.work_order_message(order))
            uow.remember(inbox_key, request_id, response.SerializeToString())
            await uow.commit()
            log.info(
                "work order changed",
                action=action,
                state=order.state.value,
                case_id=order.case_id,
                order_id=order.order_id,
                user_id=caller.user_id,
            )
            return response


def _replay(response_type: type[R], stored: bytes | None, request_id: str, order_id: str) -> R:
    response = response_type.FromString(stored or b"")
    if response.work_order.order_id != order_id:
        raise InvalidArgumentError(f"request_id {request_id} was used for another work order")
    return response


@contextmanager
def _action_span(name: str, order: WorkOrder) -> Iterator[trace.Span]:
    """A department's action happens days after discovery, in a new trace: link it
    to the case's discovery trace so the whole story can be followed."""
    with tracer.start_as_current_span(
        name,
        links=links_to(order.case_traceparent),
        attributes={
            "cityops.case_id": order.case_id,
            "cityops.work_order_id": order.order_id,
            "cityops.department_id": order.department_id,
        },
    ) as span:
        yield span
