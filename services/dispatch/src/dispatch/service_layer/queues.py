"""What waits for the operations centre: unroutable cases, arbitrations, extension requests."""

from __future__ import annotations

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from dispatch.adapters import integration_events as ie
from dispatch.domain.model import CaseState
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import InvalidArgumentError


async def list_queue(queue: pb.Queue.ValueType, uow: DispatchUnitOfWork) -> list[pb.QueueItem]:
    async with uow:
        if queue == pb.QUEUE_UNROUTABLE:
            return [
                pb.QueueItem(
                    case_id=c.case_id,
                    category_code=c.category_code,
                    district_code=c.district_code,
                    reason=c.reason,
                    since=ie.timestamp(c.updated_at),
                )
                for c in await uow.cases.in_state(CaseState.UNROUTABLE)
            ]
        if queue == pb.QUEUE_ARBITRATION:
            items = []
            for a in await uow.arbitrations.pending():
                case = await uow.cases.get(a.case_id)
                items.append(
                    pb.QueueItem(
                        case_id=a.case_id,
                        category_code=case.category_code if case else "",
                        district_code=case.district_code if case else "",
                        reason=a.reason,
                        since=ie.timestamp(a.requested_at),
                        returned_by_department_ids=a.returned_by,
                    )
                )
            return items
        if queue == pb.QUEUE_EXTENSIONS:
            items = []
            for e in await uow.extensions.pending():
                assignment = await uow.assignments.get(e.dispatch_id)
                item = pb.QueueItem(
                    case_id=e.case_id,
                    reason=e.reason,
                    since=ie.timestamp(e.requested_at),
                    extension_id=e.extension_id,
                    dispatch_id=e.dispatch_id,
                    order_id=e.order_id,
                    department_id=e.department_id,
                    requested_hours=ie.hours_of(e.requested),
                )
                if assignment is not None:
                    item.current_deadline.CopyFrom(ie.timestamp(assignment.deadline))
                items.append(item)
            return items
    raise InvalidArgumentError(
        "queue must be QUEUE_UNROUTABLE, QUEUE_ARBITRATION or QUEUE_EXTENSIONS"
    )
