"""Drive the case loop the way its people would: departments accept and
complete their orders, an inspector verifies, a supervisor closes.

Shared by the demo simulator, the e2e suite and the benchmarks, so all three
exercise the same public APIs (HTTP ingest and the services' gRPC).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import audit_service_pb2_grpc as audit_grpc
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.intake.v1 import intake_service_pb2_grpc as intake_grpc
from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from cityops.workorders.v1 import workorders_service_pb2_grpc as wo_grpc
from cityops_tools.photos import field_photo
from svckit.clock import new_id
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller
from svckit.reference import Catalogue, CityMap

OPERATOR = Caller(user_id="sim-operator", role="operator")
INSPECTOR = Caller(user_id="sim-inspector", role="inspector", department_id="centre-inspection")
SUPERVISOR = Caller(user_id="sim-supervisor", role="supervisor", department_id="centre")
SOURCES = (("video_ai", "cam"), ("drone", "uav"), ("iot", "sensor"), ("inspector", "inspector"))


def detection_payload(
    rng: random.Random, city: CityMap, catalogue: Catalogue, seq: int
) -> dict[str, Any]:
    """A plausible detection somewhere in the city."""
    latitude, longitude = city.random_point(rng)
    category = rng.choice(catalogue.categories)
    kind, prefix = rng.choice(SOURCES)
    device = f"{prefix}-{rng.randint(1, 400):04d}"
    picture = f"https://evidence.sample-city.example/{device}/{seq}.jpg"
    return {
        "source_id": device,
        "source_event_id": f"{seq}-{rng.getrandbits(48):012x}",
        "source_kind": kind,
        "category_code": category.code,
        "latitude": latitude,
        "longitude": longitude,
        "observed_at": datetime.now(UTC).isoformat(),
        "confidence": round(rng.uniform(0.8, 0.99), 3),
        "description": f"{category.name_zh} / {category.name_en}",
        "evidence": [
            {
                "uri": picture,
                "sha256": hashlib.sha256(picture.encode()).hexdigest(),
                "media_type": "image/jpeg",
                "size_bytes": 180_000,
            }
        ],
    }


@dataclass
class LoopDriver:
    """Moves every open order and case one step along, as their owners would."""

    intake_target: str
    workorders_target: str
    audit_target: str
    counts: dict[str, int] = field(
        default_factory=lambda: {"accepted": 0, "completed": 0, "verified": 0, "closed": 0}
    )
    # With record_uploads, what each order's uploads came back as (order id →
    # file name → item), so a test can check the ledger pins the same hashes.
    # Off by default: the demo runs for hours.
    record_uploads: bool = False
    uploads: dict[str, dict[str, work_order_pb2.EvidenceItem]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._intake = intake_grpc.IntakeServiceStub(channel(self.intake_target))
        self._orders = wo_grpc.WorkOrdersServiceStub(channel(self.workorders_target))
        self._audit = audit_grpc.AuditServiceStub(channel(self.audit_target))

    async def step(self) -> int:
        """One pass over what is waiting; returns how many actions were taken."""
        done = await self._work_orders()
        done += await self._verify_and_close()
        return done

    async def _work_orders(self) -> int:
        reply = await self._orders.ListWorkOrders(
            wo_pb.ListWorkOrdersRequest(
                states=[
                    work_order_pb2.WORK_ORDER_STATE_CREATED,
                    work_order_pb2.WORK_ORDER_STATE_ACCEPTED,
                ],
                page_size=200,
            ),
            metadata=OPERATOR.metadata(),
        )
        actions = 0
        for order in reply.work_orders:
            worker = Caller(
                user_id=f"{order.department_id}-staff",
                role="department_user",
                department_id=order.department_id,
            )
            if order.state == work_order_pb2.WORK_ORDER_STATE_CREATED:
                await self._orders.AcceptWorkOrder(
                    wo_pb.AcceptWorkOrderRequest(request_id=new_id(), order_id=order.order_id),
                    metadata=worker.metadata(),
                )
                self.counts["accepted"] += 1
            else:
                await self._complete_with_photos(order, worker)
                self.counts["completed"] += 1
            actions += 1
        return actions

    async def _complete_with_photos(self, order: work_order_pb2.WorkOrder, worker: Caller) -> None:
        """Before and after photos taken on the spot (EXIF time and GPS), then 反馈."""
        point = order.place.point
        for kind, name, color in (
            (work_order_pb2.EVIDENCE_KIND_BEFORE_PHOTO, "before.jpg", (180, 40, 40)),
            # Another picture after the work, so the two files never hash alike.
            (work_order_pb2.EVIDENCE_KIND_AFTER_PHOTO, "after.jpg", (40, 160, 60)),
        ):
            reply = await self._orders.UploadEvidence(
                wo_pb.UploadEvidenceRequest(
                    request_id=f"{order.order_id}-{order.attempt}-{name}",
                    order_id=order.order_id,
                    file_name=name,
                    media_type="image/jpeg",
                    content=field_photo(
                        latitude=point.latitude,
                        longitude=point.longitude,
                        taken_at=datetime.now(UTC),
                        color=color,
                    ),
                    kind=kind,
                ),
                metadata=worker.metadata(),
            )
            if self.record_uploads:
                self.uploads.setdefault(order.order_id, {})[name] = reply.evidence
        await self._orders.CompleteWorkOrder(
            wo_pb.CompleteWorkOrderRequest(
                request_id=new_id(), order_id=order.order_id, note="已处置完毕 / fixed"
            ),
            metadata=worker.metadata(),
        )

    async def _verify_and_close(self) -> int:
        reply = await self._intake.ListCases(
            intake_pb.ListCasesRequest(
                states=[case_pb2.CASE_STATE_COMPLETED, case_pb2.CASE_STATE_VERIFIED], page_size=200
            ),
            metadata=OPERATOR.metadata(),
        )
        actions = 0
        for case in reply.cases:
            if case.state == case_pb2.CASE_STATE_COMPLETED:
                # Intake may report COMPLETED before audit has recorded the
                # completion; FAILED_PRECONDITION then means "not yet": next pass.
                verified = await _unless_not_yet(
                    self._audit.VerifyCase(
                        audit_pb.VerifyCaseRequest(
                            request_id=f"verify-{case.case_id}",
                            case_id=case.case_id,
                            passed=True,
                            note="现场核查通过",
                        ),
                        metadata=INSPECTOR.metadata(),
                    )
                )
                if not verified:
                    continue
                self.counts["verified"] += 1
            else:
                await self._audit.CloseCase(
                    audit_pb.CloseCaseRequest(
                        request_id=f"close-{case.case_id}",
                        case_id=case.case_id,
                        reason_code="RESOLVED",
                    ),
                    metadata=SUPERVISOR.metadata(),
                )
                self.counts["closed"] += 1
            actions += 1
        return actions


async def _unless_not_yet(call: Awaitable[object]) -> bool:
    """Await a call; False when the service answers FAILED_PRECONDITION (not yet)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            return False
        raise
    return True
