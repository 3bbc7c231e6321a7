"""The floor for the run's own hops, measured in the same run on the stack's own
nats-server: how long JetStream and SQLite alone would take to move as many
events as the pipeline moved, so the pipeline's time reads as a multiple of
what the machine cannot go below.

Measured after the replay has settled, so the floor does not compete with the
pipeline for CPU. The ratio means most when the replay ran behind schedule: a
paced day spends much of its wall time waiting for its next detection.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.floorlib import JetStreamFloor, SqliteFloor, raw_jetstream, raw_sqlite
from bench.megacity.run import Recording

# Which services hold a durable JetStream consumer that receives each event the
# recording counts (see services/*/src/*/entrypoints/subscriptions.py): audit
# takes every stream, intake every stream but its own, dispatch and workorders
# the subjects they filter for. Keys are Recording.events names; "reported"
# (detection.reported) is counted from the detections accepted.
CONSUMERS: dict[str, tuple[str, ...]] = {
    "reported": ("intake", "audit"),
    "filed": ("dispatch", "audit"),
    "discarded": ("audit",),
    "corroborated": ("audit",),
    "dispatched": ("intake", "workorders", "audit"),
    "redispatched": ("intake", "workorders", "audit"),
    "unroutable": ("intake", "audit"),
    "arbitration": ("intake", "audit"),
    "extension decided": ("intake", "workorders", "audit"),
    "order created": ("intake", "audit"),
    "accepted": ("intake", "audit"),
    "completed": ("intake", "dispatch", "audit"),
    "returned": ("intake", "dispatch", "audit"),
    "extension requested": ("intake", "dispatch", "audit"),
    "reopened": ("intake", "dispatch", "audit"),
    "verified": ("intake", "audit"),
    "rework": ("intake", "workorders", "audit"),
    "closed": ("intake", "dispatch", "audit"),
}


@dataclass(frozen=True)
class Hops:
    events: int  # events published on JetStream by a service
    hops: int  # deliveries of those events to a consuming service


def count_hops(rec: Recording) -> Hops:
    """A hop is one event published on JetStream by a service and consumed by
    another service (or audit's ledger, which consumes its own stream too): an
    event with three consumers is three hops, since each consumer fetches,
    commits and acks it on its own. Counted: every detection accepted (one
    detection.reported each) and every event of the loop's stages and detours
    the recording watched (Recording.events), times its consumers in CONSUMERS.
    Not counted, so the floor is if anything low: events the recording does not
    watch (a case merged, reclassified, escalated, backlogged; a work order
    progressed or cancelled) and redeliveries."""
    counts = {name: len(times) for name, times in rec.events.items()}
    counts["reported"] = len(rec.accepted_at)
    events = sum(counts.get(name, 0) for name in CONSUMERS)
    hops = sum(counts.get(name, 0) * len(consumers) for name, consumers in CONSUMERS.items())
    return Hops(events, hops)


@dataclass(frozen=True)
class Floor:
    hops: Hops
    jetstream: JetStreamFloor
    sqlite: SqliteFloor


async def measure_floor(nats_url: str, hops: Hops) -> Floor:
    """One raw publish + fetch + ack per hop on a throw-away stream (deleted
    afterwards; its subjects are outside cityops.> so no service sees them),
    and one raw SQLite commit per hop, one row each and then batched."""
    token = uuid.uuid4().hex[:12]
    jetstream = await raw_jetstream(
        nats_url,
        hops.hops,
        stream=f"FLOOR_{token.upper()}",
        subject=f"bench.floor.{token}",
        drop=True,
    )
    with tempfile.TemporaryDirectory(prefix="cityops-floor-") as tmp:
        sqlite = raw_sqlite(Path(tmp) / "floor.db", hops.hops)
    return Floor(hops, jetstream, sqlite)
