"""The people of the loop, driven by the events they would be notified of:
departments accept, return (退单), ask for more time (延期) and complete with
photos; an inspector verifies and sometimes sends work back (返工); a
supervisor decides extensions, arbitrates and closes.

Built on `cityops_tools.loop.LoopDriver` (its gRPC stubs, callers and photo
upload); where LoopDriver polls, these act on core NATS notifications, so the
benchmark does not load the services with list queries. LoopDriver's own
polling `step()` stays available as a sweep for anything a notification missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from cityops.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import events_pb2 as wo_events
from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from cityops_tools.loop import INSPECTOR, SUPERVISOR, LoopDriver
from cityops_tools.photos import field_photo
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller
from svckit.messaging import subjects

RETURN_REASONS = (
    work_order_pb2.RETURN_REASON_OUTSIDE_JURISDICTION,
    work_order_pb2.RETURN_REASON_WRONG_CATEGORY,
    work_order_pb2.RETURN_REASON_CANNOT_LOCATE,
)
LEAD_ROLES = (work_order_pb2.ORDER_ROLE_LEAD, work_order_pb2.ORDER_ROLE_UNSPECIFIED)


@dataclass(frozen=True)
class Behaviour:
    """How often people deviate from the straight path, per order or case."""

    return_share: float = 0.04  # a lead order handed back on first dispatch
    extension_share: float = 0.05  # accepted, then more time asked for
    rework_share: float = 0.05  # first verification fails


def _department(order_department: str) -> Caller:
    return Caller(
        user_id=f"{order_department}-staff", role="department_user", department_id=order_department
    )


@dataclass
class CityActors(LoopDriver):
    dispatch_target: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    seed: int = 7
    concurrency: int = 24
    actions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # Calls answered "not yet" (a service had not caught up), to be made again.
    looked_again: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._dispatch = dispatch_grpc.DispatchServiceStub(channel(self.dispatch_target))
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._rework_rounds: Counter[str] = Counter()

    def _chance(self, key: str) -> float:
        """A uniform draw fixed by seed and key, so a replay makes the same choices."""
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def subscribe(self, nc: Client) -> None:
        handlers: dict[str, Callable[[bytes], Awaitable[None]]] = {
            subjects.WORKORDER_CREATED: self._on_created,
            subjects.WORKORDER_REOPENED: self._on_reopened,
            subjects.WORKORDER_EXTENSION_REQUESTED: self._on_extension_requested,
            subjects.WORKORDER_COMPLETED: self._on_completed,
            subjects.CASE_ARBITRATION_REQUESTED: self._on_arbitration,
            subjects.CASE_VERIFIED: self._on_verified,
        }
        for name, handler in handlers.items():
            await nc.subscribe(name, cb=self._spawner(name, handler))

    def _spawner(
        self, name: str, handler: Callable[[bytes], Awaitable[None]]
    ) -> Callable[[Msg], Awaitable[None]]:
        async def spawn(msg: Msg) -> None:
            task = asyncio.create_task(self._guarded(name, handler, msg.data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return spawn

    async def _guarded(
        self, name: str, handler: Callable[[bytes], Awaitable[None]], data: bytes
    ) -> None:
        async with self._slots:
            try:
                await handler(data)
            except grpc.aio.AioRpcError as exc:
                what = ".".join(name.split(".")[-2:])
                self.errors[f"{what}: {exc.code().name}"] += 1

    async def _on_created(self, data: bytes) -> None:
        order = wo_events.WorkOrderCreated.FromString(data).work_order
        worker = _department(order.department_id)
        draw = self._chance(order.order_id)
        if order.role in LEAD_ROLES and order.attempt <= 1 and draw < self.behaviour.return_share:
            await self._orders.ReturnWorkOrder(
                wo_pb.ReturnWorkOrderRequest(
                    request_id=f"return-{order.order_id}",
                    order_id=order.order_id,
                    reason=random.Random(draw).choice(RETURN_REASONS),
                ),
                metadata=worker.metadata(),
            )
            self.actions["returned"] += 1
            return
        await self._orders.AcceptWorkOrder(
            wo_pb.AcceptWorkOrderRequest(
                request_id=f"accept-{order.order_id}", order_id=order.order_id
            ),
            metadata=worker.metadata(),
        )
        self.counts["accepted"] += 1
        if draw > 1 - self.behaviour.extension_share:
            await self._orders.RequestExtension(
                wo_pb.RequestExtensionRequest(
                    request_id=f"extend-{order.order_id}",
                    order_id=order.order_id,
                    requested_hours=8,
                    reason="需协调交通管制 / road closure needed",
                ),
                metadata=worker.metadata(),
            )
            self.actions["extension requested"] += 1
            # Wait for the supervisor's decision without holding a slot: the
            # decision itself needs one.
            self._spawn_later(1.0, "extension", self._after_extension, order.SerializeToString())
            return
        await self._complete_with_photos(order, worker)
        self.counts["completed"] += 1

    async def _after_extension(self, data: bytes, tries: int) -> None:
        """Work goes on once dispatch's decision has reached the order."""
        order = work_order_pb2.WorkOrder.FromString(data)
        reply = await self._orders.GetWorkOrder(
            wo_pb.GetWorkOrderRequest(order_id=order.order_id), metadata=SUPERVISOR.metadata()
        )
        if reply.work_order.state == work_order_pb2.WORK_ORDER_STATE_EXTENSION_REQUESTED:
            if tries >= 600:
                self.errors["extension: no decision in time"] += 1
            else:
                self.looked_again["extension decided"] += 1
                self._spawn_later(1.0, "extension", self._after_extension, data, tries + 1)
            return
        await self._complete_with_photos(order, _department(order.department_id))
        self.counts["completed"] += 1

    async def _on_extension_requested(self, data: bytes, tries: int = 0) -> None:
        event = wo_events.WorkOrderExtensionRequested.FromString(data)
        try:
            await self._dispatch.DecideExtension(
                dispatch_pb.DecideExtensionRequest(
                    request_id=f"decide-{event.extension_id}",
                    extension_id=event.extension_id,
                    approve=True,
                    note="同意延期",
                ),
                metadata=SUPERVISOR.metadata(),
            )
        except grpc.aio.AioRpcError as exc:
            # Dispatch learns of the request from the same event: NOT_FOUND is "not yet".
            if exc.code() != grpc.StatusCode.NOT_FOUND or tries >= 200:
                raise
            self.looked_again["decide extension"] += 1
            self._spawn_later(
                min(5.0, 0.25 * 1.3**tries),
                subjects.WORKORDER_EXTENSION_REQUESTED,
                self._on_extension_requested,
                data,
                tries + 1,
            )
            return
        self.actions["extension approved"] += 1

    async def _on_arbitration(self, data: bytes) -> None:
        event = dispatch_events.CaseArbitrationRequested.FromString(data)
        await self._dispatch.Arbitrate(
            dispatch_pb.ArbitrateRequest(
                request_id=f"arbitrate-{event.case_id}-{len(event.returned_by_department_ids)}",
                case_id=event.case_id,
                outcome=dispatch_pb.ARBITRATION_OUTCOME_TERRITORIAL,
                note="属地兜底",
            ),
            metadata=SUPERVISOR.metadata(),
        )
        self.actions["arbitrated"] += 1

    async def _on_reopened(self, data: bytes) -> None:
        """返工: a fresh after-photo (the old one no longer counts), then 反馈 again."""
        event = wo_events.WorkOrderReopened.FromString(data)
        worker = _department(event.department_id)
        order = (
            await self._orders.GetWorkOrder(
                wo_pb.GetWorkOrderRequest(order_id=event.order_id), metadata=worker.metadata()
            )
        ).work_order
        point = order.place.point
        await self._orders.UploadEvidence(
            wo_pb.UploadEvidenceRequest(
                request_id=f"{order.order_id}-rework-{event.rework_count}-after.jpg",
                order_id=order.order_id,
                file_name=f"after-rework-{event.rework_count}.jpg",
                media_type="image/jpeg",
                content=field_photo(
                    latitude=point.latitude,
                    longitude=point.longitude,
                    taken_at=datetime.now(UTC),
                    color=(40, 120 + event.rework_count, 200),
                ),
                kind=work_order_pb2.EVIDENCE_KIND_AFTER_PHOTO,
            ),
            metadata=worker.metadata(),
        )
        await self._orders.CompleteWorkOrder(
            wo_pb.CompleteWorkOrderRequest(
                request_id=f"complete-{order.order_id}-rework-{event.rework_count}",
                order_id=order.order_id,
                note="返工完成 / redone",
            ),
            metadata=worker.metadata(),
        )
        self.actions["reworked"] += 1

    async def _on_completed(self, data: bytes, tries: int = 0) -> None:
        event = wo_events.WorkOrderCompleted.FromString(data)
        if event.role not in LEAD_ROLES:
            return
        case_id = event.case_id
        attempt = self._rework_rounds[case_id]
        passed = attempt > 0 or self._chance(f"verify-{case_id}") >= self.behaviour.rework_share
        try:
            await self._audit.VerifyCase(
                audit_pb.VerifyCaseRequest(
                    request_id=f"verify-{case_id}-{attempt}",
                    case_id=case_id,
                    passed=passed,
                    note="现场核查通过" if passed else "现场仍有问题，返工",
                ),
                metadata=INSPECTOR.metadata(),
            )
        except grpc.aio.AioRpcError as exc:
            # Audit may not have recorded the completion (FAILED_PRECONDITION) or
            # even the case (NOT_FOUND) yet: it is behind, so look again later
            # without holding a slot.
            not_yet = (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)
            if exc.code() not in not_yet or tries >= 200:
                raise
            self.looked_again["verify"] += 1
            self._spawn_later(
                0.25, subjects.WORKORDER_COMPLETED, self._on_completed, data, tries + 1
            )
            return
        if passed:
            self.counts["verified"] += 1
        else:
            self._rework_rounds[case_id] += 1
            self.actions["sent back (rework)"] += 1

    def _spawn_later(
        self,
        delay: float,
        name: str,
        handler: Callable[[bytes, int], Awaitable[None]],
        data: bytes,
        tries: int = 0,
    ) -> None:
        """Run `handler` again after `delay`, holding no slot while it waits."""

        async def later() -> None:
            await asyncio.sleep(delay)
            await self._guarded(name, lambda d: handler(d, tries), data)

        task = asyncio.create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_verified(self, data: bytes) -> None:
        event = audit_events.CaseVerified.FromString(data)
        if event.machine_verified:
            return  # the verification policy closes these itself
        await self._audit.CloseCase(
            audit_pb.CloseCaseRequest(
                request_id=f"close-{event.case_id}", case_id=event.case_id, reason_code="RESOLVED"
            ),
            metadata=SUPERVISOR.metadata(),
        )
        self.counts["closed"] += 1

    async def sweep(self) -> int:
        """LoopDriver's polling pass, for whatever a notification missed."""
        try:
            return await self.step()
        except grpc.aio.AioRpcError as exc:
            self.errors[f"sweep: {exc.code().name}"] += 1
            return 0

    def abandon(self) -> int:
        """Stops whatever is still in hand (the run is over); returns how much that was."""
        left = len(self._tasks)
        for task in list(self._tasks):
            task.cancel()
        return left
