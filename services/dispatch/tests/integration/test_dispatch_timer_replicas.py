"""督办 timers shared by replicas: on PostgreSQL two services claim with SKIP LOCKED and
every escalation is published exactly once; SQLite (one process) gets the same answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from dispatch.domain.clock import SimulatedClock
from dispatch.domain.escalation import EscalationPolicy
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import catalogue, handlers
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.timers import fire_due
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.dispatch.tests.dispatch_testing import filed_case, incoming, local
from svckit import db
from svckit.messaging import codec
from svckit.messaging.subjects import CASE_ESCALATED, CASE_FILED
from svckit.tables import OutboxMessage

CASES = 12


async def replica(engine: AsyncEngine, ctx: DispatchContext) -> int:
    """One service's timer loop, in small batches, until nothing is due."""
    fired = 0
    while True:
        count = await fire_due(lambda: DispatchUnitOfWork(engine, "dispatch"), ctx, limit=3)
        fired += count
        if count == 0:
            return fired
        await asyncio.sleep(0)


async def test_replicas_fire_every_due_timer_exactly_once(
    db_engine: AsyncEngine, database_url: str, shipped_reference: ReferenceData
) -> None:
    clock = SimulatedClock(local(2026, 3, 2, 10, 0))
    ctx = DispatchContext(
        reference=shipped_reference, clock=clock, policy=EscalationPolicy(0.75, timedelta(hours=2))
    )
    await catalogue.seed_from_file(DispatchUnitOfWork(db_engine, "dispatch"), ctx)
    for n in range(CASES):
        async with DispatchUnitOfWork(db_engine, "dispatch") as uow:
            event = incoming(filed_case(f"C-{n}", "E0105"), CASE_FILED)
            await handlers.on_intake_event(event, uow, ctx=ctx)
            await uow.commit()
    clock.set(local(2026, 3, 13, 10, 0))  # long past every deadline and repeat
    # PostgreSQL: a second engine is a second replica; SQLite: one process, one engine.
    other = db.create_engine(database_url) if not db.is_sqlite(db_engine) else db_engine
    try:
        fired = await asyncio.gather(replica(db_engine, ctx), replica(other, ctx))
    finally:
        if other is not db_engine:
            await other.dispose()
    async with db.session_factory(db_engine)() as session:
        rows = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.subject == CASE_ESCALATED))
        ).all()
    escalations = [codec.decode(r.event_type, r.body) for r in rows]
    assert all(isinstance(e, dispatch_events.CaseEscalated) for e in escalations)
    seen = Counter((e.case_id, e.kind, e.level) for e in escalations)  # type: ignore[attr-defined]
    # Each case: the warning and breach levels 1, 2, 3, each once.
    assert len(seen) == CASES * 4 and set(seen.values()) == {1}
    assert sum(fired) == CASES * 4
