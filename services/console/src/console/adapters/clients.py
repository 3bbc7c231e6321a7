"""gRPC stubs for the services behind the console's screens.

Every call carries the logged-in person's identity (svckit.grpc.identity
metadata), so each service authorizes and records the real actor; the
console never acts under a shared identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grpc import aio

from cityops.audit.v1 import audit_service_pb2_grpc as audit_grpc
from cityops.detection.v1 import detection_service_pb2_grpc as detection_grpc
from cityops.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from cityops.intake.v1 import intake_service_pb2_grpc as intake_grpc
from cityops.ops.v1 import dead_letters_pb2_grpc as ops_grpc
from cityops.workorders.v1 import workorders_service_pb2_grpc as wo_grpc
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller


@dataclass
class ServiceClients:
    """One stub per service. Tests hand in stand-ins with the same method names."""

    intake: Any
    dispatch: Any
    workorders: Any
    audit: Any
    detection: Any
    # Each service's dead-letter API (svckit), by service name.
    dead_letters: dict[str, Any] = field(default_factory=dict)
    channels: list[aio.Channel] = field(default_factory=list)

    @classmethod
    def connect(
        cls,
        *,
        intake: str,
        dispatch: str,
        workorders: str,
        audit: str,
        detection: str,
        deadline_seconds: float = 10.0,
    ) -> ServiceClients:
        chans = {
            name: channel(target, deadline_seconds=deadline_seconds)
            for name, target in (
                ("intake", intake),
                ("dispatch", dispatch),
                ("workorders", workorders),
                ("audit", audit),
                ("detection", detection),
            )
        }
        return cls(
            intake=intake_grpc.IntakeServiceStub(chans["intake"]),
            dispatch=dispatch_grpc.DispatchServiceStub(chans["dispatch"]),
            workorders=wo_grpc.WorkOrdersServiceStub(chans["workorders"]),
            audit=audit_grpc.AuditServiceStub(chans["audit"]),
            detection=detection_grpc.DetectionServiceStub(chans["detection"]),
            dead_letters={
                name: ops_grpc.DeadLetterServiceStub(chan) for name, chan in chans.items()
            },
            channels=list(chans.values()),
        )

    async def close(self) -> None:
        for chan in self.channels:
            await chan.close()


async def call(method: Any, request: Any, caller: Caller) -> Any:
    """One RPC as `caller`."""
    return await method(request, metadata=caller.metadata())
