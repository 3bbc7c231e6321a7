"""Clocks changed by other services' events over NATS: a new urgency, then a rework (返工)."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.client import Client

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as wo_events
from services.dispatch.tests.component.dispatch_component import Start, wait_for_events
from services.dispatch.tests.dispatch_testing import IN_D01, filed_case, local, stamp
from svckit.messaging.subjects import (
    CASE_FILED,
    WORKORDER_COMPLETED,
    WORKORDER_REOPENED,
    subject,
)
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event

CASE_URGENCY_CHANGED = subject("intake", "case", "urgency_changed")


async def test_urgency_and_rework_events_move_the_lead_deadline(
    start_dispatch: Start, nats_client: Client
) -> None:
    running = await start_dispatch()
    js = nats_client.jetstream()
    filed = filed_case("C-1", "E0401", district="D01", point=IN_D01)
    await publish_event(js, filed, CASE_FILED, case_id="C-1")
    lead = (await wait_for_events(nats_client, 3))[0].message
    assert isinstance(lead, dispatch_events.CaseDispatched)
    # Filed Monday 11:00 with the rule's 8 working hours: Tuesday 11:30.
    assert lead.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 3, 11, 30)

    async def lead_deadline(expected: datetime) -> pb.GetDispatchResponse:
        async def moved() -> pb.GetDispatchResponse | None:
            found: pb.GetDispatchResponse = await running.stub.GetDispatch(
                pb.GetDispatchRequest(case_id="C-1")
            )
            return found if found.deadline.ToDatetime(tzinfo=UTC) == expected else None

        return await eventually(moved, timeout=20)

    changed = intake_events.CaseUrgencyChanged(
        case_id="C-1", new_urgency=common_pb2.URGENCY_IMMEDIATE
    )
    await publish_event(js, changed, CASE_URGENCY_CHANGED, case_id="C-1")
    # 4 working hours for an immediate case: Monday 11:00 → 16:30.
    await lead_deadline(local(2026, 3, 2, 16, 30))

    done = wo_events.WorkOrderCompleted(
        order_id="WO-1",
        case_id="C-1",
        department_id=lead.department_id,
        dispatch_id=lead.dispatch_id,
        completed_at=stamp(local(2026, 3, 2, 15, 0)),
    )
    await publish_event(js, done, WORKORDER_COMPLETED, case_id="C-1")

    async def completed() -> bool | None:
        found = await running.stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))
        return found.state == "completed" or None

    await eventually(completed, timeout=20)
    rework = wo_events.WorkOrderReopened(
        order_id="WO-1",
        case_id="C-1",
        department_id=lead.department_id,
        dispatch_id=lead.dispatch_id,
        reopened_at=stamp(local(2026, 3, 3, 9, 0)),
        reason="核查未通过",
        rework_count=1,
    )
    await publish_event(js, rework, WORKORDER_REOPENED, case_id="C-1")
    # A fresh 4 working hours from Tuesday 09:00: 09:00–12:00, 13:30–14:30.
    found = await lead_deadline(local(2026, 3, 3, 14, 30))
    assert found.state == "dispatched" and found.assignments[0].status == "active"
