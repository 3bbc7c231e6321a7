"""Fault injection over the whole stack, then a history check.

Under a steady load of detections and department actions, repeatedly SIGKILL a
random service or nats-server, SIGTERM one, or SIGSTOP one for longer than its
ack wait; restart; then let the stack settle and check the history:

- every accepted detection belongs to exactly one case (or a recorded discard);
- every dispatch produced exactly one work order;
- the ledger verifies and holds every event of every stream once;
- no durable consumer is stuck (nothing pending or unacked).

    python -m cityops_tools.chaos --episodes 20 --seed 7      (make chaos runs more)

Bounded in time and seeded; it only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import audit_service_pb2_grpc as audit_grpc
from cityops_tools.devstack import Ports, Stack
from cityops_tools.loop import OPERATOR, LoopDriver, detection_payload
from svckit.grpc.client import channel
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import PRODUCERS, stream_for
from svckit.reference import Catalogue, CityMap, default_catalogue_path, default_city_map_path
from svckit.testing.streams import stream_events

TARGETS = ("detection", "intake", "dispatch", "workorders", "audit", "nats")
ACK_WAIT_SECONDS = 2.0


@dataclass
class ChaosReport:
    episodes: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    events: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck)

    def summary(self) -> str:
        return (
            f"episodes={len(self.episodes)} detections={len(self.accepted)} events={self.events} "
            f"lost={len(self.lost)} duplicated={len(self.duplicated)} stuck={len(self.stuck)}"
        )


def chaos_stack(root: Path) -> Stack:
    return Stack(
        data_dir=root,
        ports=Ports.free(),
        log_format="json",
        log_dir=root / "logs",
        extra_env={"CITYOPS_ACK_WAIT_SECONDS": str(ACK_WAIT_SECONDS)},
    )


class Chaos:
    def __init__(self, stack: Stack, seed: int) -> None:
        self.stack = stack
        self.rng = random.Random(seed)
        self.report = ChaosReport()
        self._loading = True

    async def run(self, episodes: int) -> ChaosReport:
        load = asyncio.create_task(self._post_detections())
        work = asyncio.create_task(self._work_the_loop())
        try:
            for number in range(episodes):
                await self._episode(number)
                await asyncio.sleep(self.rng.uniform(0.5, 1.5))
        finally:
            self._loading = False
            await load
        await self._settle(work)
        await self._check()
        return self.report

    async def _episode(self, number: int) -> None:
        target = self.rng.choice(TARGETS)
        action = self.rng.choice(("kill", "kill", "term", "stop"))
        if target == "nats":
            action = "kill"
        self.report.episodes.append(f"{number + 1}: {action} {target}")
        if target == "nats":
            assert self.stack.nats is not None
            self.stack.nats.kill()
            await asyncio.sleep(self.rng.uniform(0.3, 1.5))
            self.stack.nats.start()
            return
        if action == "stop":
            self.stack.kill(target, signal.SIGSTOP)
            await asyncio.sleep(ACK_WAIT_SECONDS + 1.0)
            self.stack.kill(target, signal.SIGCONT)
            return
        await asyncio.to_thread(
            self.stack.kill, target, signal.SIGKILL if action == "kill" else signal.SIGTERM
        )
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        await asyncio.to_thread(self.stack.restart, target)

    async def _post_detections(self) -> None:
        city = CityMap.load(default_city_map_path())
        catalogue = Catalogue.load(default_catalogue_path())
        url = f"http://127.0.0.1:{self.stack.ports.detection_http}/ingest/detections"
        sequence = 0
        async with httpx.AsyncClient(timeout=5) as http:
            while self._loading:
                body = detection_payload(self.rng, city, catalogue, sequence)
                body["observed_at"] = datetime.now(UTC).isoformat()
                sequence += 1
                with contextlib.suppress(httpx.HTTPError):
                    reply = await http.post(url, json=body)
                    if reply.status_code == 202:
                        self.report.accepted.append(reply.json()["detection_id"])
                await asyncio.sleep(0.1)

    async def _work_the_loop(self) -> None:
        ports = self.stack.ports
        driver = LoopDriver(
            ports.grpc_target("intake"), ports.grpc_target("workorders"), ports.grpc_target("audit")
        )
        while True:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await driver.step()
            await asyncio.sleep(0.3)

    async def _settle(self, work: asyncio.Task[None], timeout: float = 180.0) -> None:
        """Heal, then wait until every consumer has drained and the ledger stops growing."""
        for service, proc in self.stack.processes.items():
            if proc.poll() is not None:
                await asyncio.to_thread(self.stack.restart, service)
        deadline = time.monotonic() + timeout
        nc = await nats.connect(f"nats://127.0.0.1:{self.stack.ports.nats}")
        try:
            js = nc.jetstream()
            quiet = 0
            while time.monotonic() < deadline and quiet < 3:
                busy = await _busy_consumers(js)
                quiet = quiet + 1 if not busy else 0
                await asyncio.sleep(1.0)
        finally:
            await nc.close()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work

    async def _check(self) -> None:
        nc = await nats.connect(f"nats://127.0.0.1:{self.stack.ports.nats}")
        try:
            js = nc.jetstream()
            events = {p: await stream_events(js, stream_for(p).name) for p in PRODUCERS}
            self.report.stuck = await _busy_consumers(js)
        finally:
            await nc.close()
        ids = [e.id for stream in events.values() for e in stream]
        self.report.events = len(set(ids))
        self._check_detections(events)
        self._check_orders(events, self._orders(events))
        await self._check_ledger(len(set(ids)))

    def _check_detections(self, events: dict[str, list[IncomingEvent]]) -> None:
        # A detection may be named by several events of the same case (joined
        # while in triage, then filed): count the distinct cases it landed in.
        homes: dict[str, set[str]] = {}
        for event in events["intake"]:
            message: Any = event.message
            name = message.DESCRIPTOR.name
            if name == "CaseFiled":
                for detection_id in message.case.detection_ids:
                    homes.setdefault(detection_id, set()).add(message.case.case_id)
            elif name == "CaseCorroborated":
                homes.setdefault(message.detection_id, set()).add(message.case_id)
            elif name == "DetectionDiscarded":
                homes.setdefault(message.detection_id, set()).add("discarded")
        for detection_id in self.report.accepted:
            places = homes.get(detection_id, set())
            if not places:
                self.report.lost.append(f"detection {detection_id} is in no case")
            elif len(places) > 1:
                self.report.duplicated.append(f"detection {detection_id} is in {sorted(places)}")

    def _check_orders(self, events: dict[str, list[IncomingEvent]], orders: Counter[str]) -> None:
        dispatches = set()
        for event in events["dispatch"]:
            message: Any = event.message
            if message.DESCRIPTOR.name == "CaseDispatched":
                dispatches.add(message.dispatch_id)
            elif message.DESCRIPTOR.name == "CaseRedispatched":
                dispatches.add(message.dispatch.dispatch_id)
        for dispatch_id in dispatches:
            if orders[dispatch_id] == 0:
                self.report.lost.append(f"dispatch {dispatch_id} has no work order")
            elif orders[dispatch_id] > 1:
                self.report.duplicated.append(
                    f"dispatch {dispatch_id} has {orders[dispatch_id]} orders"
                )

    @staticmethod
    def _orders(events: dict[str, list[IncomingEvent]]) -> Counter[str]:
        """Orders per dispatch, from the history of WorkOrderCreated events
        (distinct order ids, so a resent event is not a second order)."""
        orders: dict[str, set[str]] = {}
        for event in events["workorders"]:
            message: Any = event.message
            if message.DESCRIPTOR.name == "WorkOrderCreated":
                order = message.work_order
                orders.setdefault(order.dispatch_id, set()).add(order.order_id)
        return Counter({dispatch: len(ids) for dispatch, ids in orders.items()})

    async def _check_ledger(self, events: int) -> None:
        stub = audit_grpc.AuditServiceStub(channel(self.stack.ports.grpc_target("audit")))
        verdict = await stub.VerifyLedger(
            audit_pb.VerifyLedgerRequest(), metadata=OPERATOR.metadata(), timeout=120
        )
        if not verdict.ok:
            self.report.lost.append(f"ledger does not verify: {verdict.problem}")
        if verdict.entries_checked < events:
            self.report.lost.append(
                f"ledger holds {verdict.entries_checked} entries for {events} events"
            )
        elif verdict.entries_checked > events:
            self.report.duplicated.append(
                f"ledger holds {verdict.entries_checked} entries for {events} events"
            )


async def _busy_consumers(js: nats.js.JetStreamContext) -> list[str]:
    busy = []
    for producer in PRODUCERS:
        stream = stream_for(producer).name
        with contextlib.suppress(nats.js.errors.NotFoundError):
            for info in await js.consumers_info(stream):
                if info.num_pending or info.num_ack_pending:
                    busy.append(
                        f"{info.name}: pending={info.num_pending} unacked={info.num_ack_pending}"
                    )
    return busy


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep data and logs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-chaos-") as tmp:
        stack = chaos_stack(args.keep or Path(tmp))
        with stack.running():
            report = asyncio.run(Chaos(stack, args.seed).run(args.episodes))
    for line in report.episodes:
        print(f"episode {line}")
    for problem in report.lost + report.duplicated + report.stuck:
        print(f"PROBLEM {problem}")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
