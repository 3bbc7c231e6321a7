"""挂账 and resuming over gRPC: the case's deadline moves and CaseResumed reaches the DISPATCH stream."""

from __future__ import annotations

from datetime import UTC

import grpc
import pytest
from nats.aio.client import Client

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from dispatch.domain.clock import SimulatedClock
from services.dispatch.tests.component.dispatch_component import Start, wait_for_events
from services.dispatch.tests.dispatch_testing import IN_D02, filed_case, local
from svckit.messaging.subjects import CASE_BACKLOGGED, CASE_FILED, CASE_RESUMED
from svckit.testing.streams import publish_event

SUPERVISOR = (("x-cityops-user", "sup-1"), ("x-cityops-role", "supervisor"))
OPERATOR = (("x-cityops-user", "op-1"), ("x-cityops-role", "operator"))


async def test_a_backlogged_case_resumes_with_its_deadline_moved_and_says_so(
    start_dispatch: Start, nats_client: Client, clock: SimulatedClock
) -> None:
    running = await start_dispatch()
    stub = running.stub
    filed = filed_case(
        "C-1", "E0105", district="D02", point=IN_D02, urgency=common_pb2.URGENCY_IMMEDIATE
    )
    await publish_event(nats_client.jetstream(), filed, CASE_FILED, case_id="C-1")
    (dispatched,) = await wait_for_events(nats_client, 1)
    assert isinstance(dispatched.message, dispatch_events.CaseDispatched)
    # Monday 11:00 + 24 working hours: Thursday 14:00.
    assert dispatched.message.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 5, 14, 0)

    resume = pb.ResumeRequest(request_id="r-1", case_id="C-1", note="产权已查明")
    await _refused(stub.Resume(resume, metadata=SUPERVISOR), grpc.StatusCode.FAILED_PRECONDITION)

    await stub.Backlog(
        pb.BacklogRequest(request_id="b-1", case_id="C-1", reason="产权不明"), metadata=SUPERVISOR
    )
    clock.set(local(2026, 3, 3, 11, 0))  # Tuesday: 7.5 working hours in 挂账

    for request, metadata, code in (
        (pb.ResumeRequest(request_id="r-0", case_id="C-404"), SUPERVISOR, "NOT_FOUND"),
        (resume, OPERATOR, "PERMISSION_DENIED"),
        (pb.ResumeRequest(case_id="C-1"), SUPERVISOR, "INVALID_ARGUMENT"),
        (resume, (), "UNAUTHENTICATED"),
    ):
        await _refused(stub.Resume(request, metadata=metadata), grpc.StatusCode[code])
    assert (await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))).state == "backlogged"

    reply = await stub.Resume(resume, metadata=SUPERVISOR)
    assert (reply.case_id, reply.state) == ("C-1", "dispatched")
    assert reply.resumed_at.ToDatetime(tzinfo=UTC) == local(2026, 3, 3, 11, 0)
    (moved,) = reply.moved
    # What was left on Monday 11:00 runs from Tuesday 11:00: a working day later.
    assert moved.dispatch_id == dispatched.message.dispatch_id
    assert moved.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 6, 14, 0)
    assert await stub.Resume(resume, metadata=SUPERVISOR) == reply  # a retry, answered again
    again = pb.ResumeRequest(request_id="r-2", case_id="C-1")
    await _refused(stub.Resume(again, metadata=SUPERVISOR), grpc.StatusCode.FAILED_PRECONDITION)

    events = await wait_for_events(nats_client, 3)
    assert [e.subject for e in events] == [
        dispatched.subject,
        CASE_BACKLOGGED,
        CASE_RESUMED,
    ]
    resumed = events[2].message
    assert isinstance(resumed, dispatch_events.CaseResumed) and events[2].case_id == "C-1"
    assert (resumed.state, resumed.note, resumed.suspended_hours) == (
        "dispatched",
        "产权已查明",
        7.5,
    )
    assert resumed.resumed_by.user_id == "sup-1"
    assert resumed.resumed_by.role == common_pb2.ACTOR_ROLE_SUPERVISOR
    assert [(m.dispatch_id, m.department_id, m.deadline) for m in resumed.moved] == [
        (moved.dispatch_id, "D02-transport", moved.deadline)
    ]
    looked_up = await stub.GetDispatch(pb.GetDispatchRequest(case_id="C-1"))
    assert (looked_up.state, looked_up.deadline) == ("dispatched", moved.deadline)


async def _refused(call: object, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call  # type: ignore[misc]
    assert failed.value.code() == code, failed.value.details()
