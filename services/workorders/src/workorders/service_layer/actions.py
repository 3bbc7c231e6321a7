"""The department's commands on its orders (签收, 退单, 处置, 延期, 反馈) and
its reads, each under the domain's rules and in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from google.protobuf.message import Message
from opentelemetry import trace

from cityops.workorders.v1 import workorders_service_pb2 as api
from svckit.calendars import DepartmentCalendars
from svckit.clock import new_id, utcnow
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.subjects import (
    WORKORDER_ACCEPTED,
    WORKORDER_COMPLETED,
    WORKORDER_EXTENSION_REQUESTED,
    WORKORDER_PROGRESSED,
    WORKORDER_RETURNED,
)
from svckit.telemetry import links_to
from workorders.adapters import integration_events as ie
from workorders.adapters.messages import work_order_message
from workorders.domain import commands, paging, rules
from workorders.domain.evidence import EvidenceItem
from workorders.domain.model import WorkOrder
from workorders.service_layer.ports import EvidenceRules
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

log = get_logger(__name__)
tracer = trace.get_tracer("workorders")

R = TypeVar(
    "R",
    api.AcceptWorkOrderResponse,
    api.CompleteWorkOrderResponse,
    api.ReturnWorkOrderResponse,
    api.ReportProgressResponse,
    api.RequestExtensionResponse,
)
Apply = Callable[[WorkOrder, datetime], Awaitable[Message]]
OrderView = tuple[WorkOrder, list[EvidenceItem]]


@dataclass(frozen=True)
class OrderPage:
    views: list[OrderView]
    # Empty on the last page.
    next_page_token: str


@dataclass(frozen=True)
class _Spec(Generic[R]):
    """One department action: its RPC (the idempotency scope), name, event subject, response."""

    method: str
    action: str
    subject: str
    response_type: type[R]


ACCEPT = _Spec("AcceptWorkOrder", "accept", WORKORDER_ACCEPTED, api.AcceptWorkOrderResponse)
RETURN = _Spec("ReturnWorkOrder", "return", WORKORDER_RETURNED, api.ReturnWorkOrderResponse)
PROGRESS = _Spec("ReportProgress", "progress", WORKORDER_PROGRESSED, api.ReportProgressResponse)
EXTENSION = _Spec(
    "RequestExtension",
    "request_extension",
    WORKORDER_EXTENSION_REQUESTED,
    api.RequestExtensionResponse,
)
COMPLETE = _Spec(
    "CompleteWorkOrder", "complete", WORKORDER_COMPLETED, api.CompleteWorkOrderResponse
)


async def list_work_orders(
    cmd: commands.ListWorkOrders, caller: Caller, uow: WorkOrdersUnitOfWork
) -> OrderPage:
    """A department user sees its own department's orders; overseers see all.
    One more row than the page is read to know whether another page follows."""
    scope = rules.read_scope(caller)
    limit = rules.page_size(cmd.page_size)
    filters = paging.filters_key(cmd.states, cmd.case_id)
    after = paging.decode(cmd.page_token, filters)
    async with uow:
        orders = await uow.orders.find(
            department_id=scope,
            states=cmd.states,
            case_id=cmd.case_id,
            limit=limit + 1,
            after=after,
        )
        more, orders = len(orders) > limit, orders[:limit]
        items = await uow.evidence.for_orders(o.order_id for o in orders)
    token = ""
    if more:
        last = orders[-1]
        token = paging.encode(paging.Position(last.created_at, last.order_id), filters)
    return OrderPage([(o, items[o.order_id]) for o in orders], token)


async def get_work_order(
    cmd: commands.GetWorkOrder, caller: Caller, uow: WorkOrdersUnitOfWork
) -> OrderView:
    rules.read_scope(caller)  # a role with no read access is refused before any lookup
    async with uow:
        order = await uow.orders.get(cmd.order_id)
        if order is None:
            raise NotFoundError(f"work order {cmd.order_id} not found")
        rules.ensure_visible(caller, order.order_id, order.department_id)
        return order, await uow.evidence.for_order(order.order_id)


async def accept_work_order(
    cmd: commands.AcceptWorkOrder,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    *,
    calendars: DepartmentCalendars | None = None,
) -> api.AcceptWorkOrderResponse:
    """签收: CREATED → ACCEPTED, announced with the accepting actor."""

    async def apply(order: WorkOrder, now: datetime) -> Message:
        order.accept(caller, now)
        return ie.accepted(order, caller.to_actor())

    return await _act(uow, caller, ACCEPT, cmd.request_id, cmd.order_id, apply, calendars)


async def return_work_order(
    cmd: commands.ReturnWorkOrder,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    *,
    calendars: DepartmentCalendars | None = None,
) -> api.ReturnWorkOrderResponse:
    """退单: CREATED / ACCEPTED → RETURNED with a reason; dispatch decides what next."""

    async def apply(order: WorkOrder, now: datetime) -> Message:
        order.return_order(caller, now, reason=cmd.reason, note=cmd.note)
        return ie.returned(order, caller.to_actor())

    return await _act(uow, caller, RETURN, cmd.request_id, cmd.order_id, apply, calendars)


async def report_progress(
    cmd: commands.ReportProgress,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    *,
    calendars: DepartmentCalendars | None = None,
) -> api.ReportProgressResponse:
    """处置中: a note and, optionally, uploads of this order it cites."""

    async def apply(order: WorkOrder, now: datetime) -> Message:
        cited = await _cited_uploads(uow, order, cmd.evidence_ids)
        order.report_progress(caller, now, note=cmd.note)
        return ie.progressed(order, caller.to_actor(), cited)

    return await _act(uow, caller, PROGRESS, cmd.request_id, cmd.order_id, apply, calendars)


async def request_extension(
    cmd: commands.RequestExtension,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    *,
    calendars: DepartmentCalendars | None = None,
) -> api.RequestExtensionResponse:
    """延期申请: the order waits in EXTENSION_REQUESTED until dispatch decides."""

    async def apply(order: WorkOrder, now: datetime) -> Message:
        ext = order.request_extension(
            caller, now, extension_id=new_id("EXT-"), hours=cmd.requested_hours, reason=cmd.reason
        )
        return ie.extension_requested(order, caller.to_actor(), ext)

    return await _act(uow, caller, EXTENSION, cmd.request_id, cmd.order_id, apply, calendars)


async def complete_work_order(
    cmd: commands.CompleteWorkOrder,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    evidence: EvidenceRules,
    *,
    calendars: DepartmentCalendars | None = None,
) -> api.CompleteWorkOrderResponse:
    """反馈: → COMPLETED with a note and the evidence the catalogue requires;
    the event pins every upload by hash and carries its flags."""

    async def apply(order: WorkOrder, now: datetime) -> Message:
        uploads = await uow.evidence.for_order(order.order_id)
        await _ensure_intact(evidence, uploads)
        order.complete(
            caller,
            now,
            note=cmd.note,
            evidence=cmd.evidence,
            uploads=uploads,
            required=evidence.required_for(order.category_code),
            accept_external=not evidence.require_uploaded_evidence,
        )
        return ie.completed(order, caller.to_actor(), uploads)

    return await _act(uow, caller, COMPLETE, cmd.request_id, cmd.order_id, apply, calendars)


async def _cited_uploads(
    uow: WorkOrdersUnitOfWork, order: WorkOrder, evidence_ids: tuple[str, ...]
) -> list[EvidenceItem]:
    """The uploads a report cites; an id that is not an upload of this order
    is not found (whoever else's it may be)."""
    if len(evidence_ids) > rules.MAX_CITED_EVIDENCE:
        raise InvalidArgumentError(f"at most {rules.MAX_CITED_EVIDENCE} evidence ids")
    cited: list[EvidenceItem] = []
    for evidence_id in dict.fromkeys(evidence_ids):
        item = await uow.evidence.get(evidence_id)
        if item is None or item.order_id != order.order_id:
            raise NotFoundError(f"evidence {evidence_id} not found on work order {order.order_id}")
        cited.append(item)
    return cited


async def _ensure_intact(evidence: EvidenceRules, uploads: list[EvidenceItem]) -> None:
    """Completion cites the uploads by hash, so each must still have it in the store."""
    for item in uploads:
        stored = await evidence.store.sha256(item.key)
        if stored != item.sha256:
            log.error(
                "evidence changed in the store",
                case_id=item.case_id,
                order_id=item.order_id,
                evidence_id=item.evidence_id,
            )
            raise FailedPreconditionError(
                f"evidence {item.evidence_id} ({item.file_name}) no longer matches its "
                "sha256 in the store; upload it again"
            )


async def _act(
    uow: WorkOrdersUnitOfWork,
    caller: Caller,
    spec: _Spec[R],
    request_id: str,
    order_id: str,
    apply: Apply,
    calendars: DepartmentCalendars | None,
) -> R:
    """The shape of every department action: load, authorize, replay a retried
    request_id or apply the rule, publish, remember the response, commit.

    ``calendars`` (the servicer always passes them) fill the order's working
    time left; without them (tests of the rules alone) it is left unset."""
    rules.require_request_id(request_id)
    inbox_key = f"grpc:{spec.method}"
    async with uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            raise NotFoundError(f"work order {order_id} not found")
        with action_span(f"workorders.{spec.action}", order) as span:
            # Authorize before replaying, so a stored response never reaches another department.
            rules.ensure_may_act(caller, order.department_id, spec.action.replace("_", " "))
            prior = await uow.seen(inbox_key, request_id)
            if prior is not None:
                span.set_attribute("cityops.replayed", True)
                return _replay(spec.response_type, prior.result, request_id, order_id)
            now = utcnow()
            event = await apply(order, now)
            await uow.orders.save(order)
            uow.publish(event, subject=spec.subject, case_id=order.case_id)
            items = await uow.evidence.for_order(order.order_id)
            response = spec.response_type(
                work_order=work_order_message(order, items, now=now, calendars=calendars)
            )
            uow.remember(inbox_key, request_id, response.SerializeToString())
            await uow.commit()
            log.info(
                "work order changed",
                action=spec.action,
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
def action_span(name: str, order: WorkOrder) -> Iterator[trace.Span]:
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
