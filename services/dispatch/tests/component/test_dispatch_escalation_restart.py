"""督办 timers are durable: dispatch restarted mid-deadline still escalates on time."""

from __future__ import annotations

from datetime import UTC

from nats.aio.client import Client

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from dispatch.domain.clock import SimulatedClock
from dispatch.domain.escalation import TimerStatus
from services.dispatch.tests.component.dispatch_component import Start, wait_for_events
from services.dispatch.tests.component.dispatch_component import dispatch_events as published
from services.dispatch.tests.dispatch_testing import filed_case, local
from svckit.messaging.subjects import CASE_ESCALATED, CASE_FILED
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event


async def test_a_restart_mid_deadline_still_escalates_on_time(
    start_dispatch: Start, nats_client: Client, clock: SimulatedClock
) -> None:
    settings = {"escalation_repeat_hours": 1.0}
    first = await start_dispatch(**settings)
    # 占道经营 in 西城区: 2 working hours from Monday 11:00 → 11:00–12:00, 13:30–14:30.
    await publish_event(
        nats_client.jetstream(), filed_case("C-1", "E0501"), CASE_FILED, case_id="C-1"
    )
    (dispatched,) = await wait_for_events(nats_client, 1)
    assert isinstance(dispatched.message, dispatch_events.CaseDispatched)
    assert dispatched.message.deadline.ToDatetime(tzinfo=UTC) == local(2026, 3, 2, 14, 30)

    clock.set(local(2026, 3, 2, 12, 30))  # lunch: half the working time used
    await first.stop()

    clock.set(local(2026, 3, 2, 13, 59))  # one minute before the 75 % warning (14:00)
    second = await start_dispatch(**settings)
    loop = second.service.timers
    passes = loop.passes

    async def looked_twice() -> bool:
        return loop.passes >= passes + 2

    await eventually(looked_twice, timeout=10)
    assert [e for e in await published(nats_client) if e.subject == CASE_ESCALATED] == []
    async with second.service.runtime.uow() as uow:
        timers = await uow.timers.of(case_id="C-1")
    assert [(t.kind.value, t.status) for t in timers] == [
        ("warning", TimerStatus.PENDING),
        ("breach", TimerStatus.PENDING),
    ]

    expected = [
        (local(2026, 3, 2, 14, 0), dispatch_events.ESCALATION_KIND_WARNING, 1),
        (local(2026, 3, 2, 14, 30), dispatch_events.ESCALATION_KIND_BREACH, 1),
        (local(2026, 3, 2, 15, 30), dispatch_events.ESCALATION_KIND_BREACH, 2),
    ]
    for count, (at, kind, level) in enumerate(expected, start=2):
        clock.set(at)
        escalated = (await wait_for_events(nats_client, count))[-1]
        assert escalated.subject == CASE_ESCALATED and escalated.case_id == "C-1"
        event = escalated.message
        assert isinstance(event, dispatch_events.CaseEscalated)
        assert (event.kind, event.level, event.stage) == (kind, level, "disposal")
        assert event.escalated_at.ToDatetime(tzinfo=UTC) == at
        assert event.department_id == "D02-city_management"
        assert event.dispatch_id == dispatched.message.dispatch_id
