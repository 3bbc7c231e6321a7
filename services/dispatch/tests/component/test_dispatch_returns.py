"""退单 over NATS: a return is re-dispatched elsewhere; the third goes to arbitration."""

from __future__ import annotations

from nats.aio.client import Client

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2 as wo_events
from cityops.workorders.v1 import work_order_pb2
from services.dispatch.tests.component.dispatch_component import Start, wait_for_events
from services.dispatch.tests.dispatch_testing import filed_case
from svckit.messaging.subjects import (
    CASE_ARBITRATION_REQUESTED,
    CASE_FILED,
    CASE_REDISPATCHED,
    WORKORDER_RETURNED,
)
from svckit.testing.streams import publish_event

SUPERVISOR = (("x-cityops-user", "sup-1"), ("x-cityops-role", "supervisor"))


async def return_order(nc: Client, dispatched: dispatch_events.CaseDispatched) -> None:
    await publish_event(
        nc.jetstream(),
        wo_events.WorkOrderReturned(
            order_id=f"WO-{dispatched.attempt}",
            case_id=dispatched.case_id,
            department_id=dispatched.department_id,
            dispatch_id=dispatched.dispatch_id,
            reason=work_order_pb2.RETURN_REASON_OUTSIDE_JURISDICTION,
            note="不属于本单位职责",
        ),
        WORKORDER_RETURNED,
        case_id=dispatched.case_id,
    )


async def test_returns_redispatch_elsewhere_then_the_third_goes_to_arbitration(
    start_dispatch: Start, nats_client: Client
) -> None:
    running = await start_dispatch()
    await publish_event(
        nats_client.jetstream(), filed_case("C-1", "E0105"), CASE_FILED, case_id="C-1"
    )
    (first,) = await wait_for_events(nats_client, 1)
    assert isinstance(first.message, dispatch_events.CaseDispatched)

    await return_order(nats_client, first.message)
    second = (await wait_for_events(nats_client, 2))[-1]
    assert second.subject == CASE_REDISPATCHED
    assert isinstance(second.message, dispatch_events.CaseRedispatched)
    moved = second.message.dispatch
    assert moved.department_id == "D02-city_management" and moved.attempt == 2
    assert second.message.previous_department_id == "D02-transport"

    await return_order(nats_client, moved)
    third = (await wait_for_events(nats_client, 3))[-1]
    assert isinstance(third.message, dispatch_events.CaseRedispatched)
    assert third.message.dispatch.department_id == "D02-street_office"

    await return_order(nats_client, third.message.dispatch)
    asked = (await wait_for_events(nats_client, 4))[-1]
    assert asked.subject == CASE_ARBITRATION_REQUESTED
    assert isinstance(asked.message, dispatch_events.CaseArbitrationRequested)
    assert len(asked.message.returned_by_department_ids) == 3

    stub = running.stub
    queue = await stub.ListQueue(pb.ListQueueRequest(queue=pb.QUEUE_ARBITRATION))
    assert [i.case_id for i in queue.items] == ["C-1"]
    decided = await stub.Arbitrate(
        pb.ArbitrateRequest(
            request_id="arb-1",
            case_id="C-1",
            outcome=pb.ARBITRATION_OUTCOME_DEPARTMENT,
            department_id="D02-housing",
            note="市城运中心裁定",
        ),
        metadata=SUPERVISOR,
    )
    assert decided.assignment.department_id == "D02-housing" and decided.assignment.attempt == 4
    assert {t.department_id for t in decided.lost_time} == {
        "D02-transport",
        "D02-city_management",
        "D02-street_office",
    }
    final = (await wait_for_events(nats_client, 5))[-1]
    assert isinstance(final.message, dispatch_events.CaseRedispatched)
    assert final.message.dispatch.department_id == "D02-housing"
    looked_up = await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))
    assert looked_up.department_id == "D02-housing" and looked_up.attempt == 4
    assert [a.status for a in looked_up.assignments] == ["returned"] * 3 + ["active"]
