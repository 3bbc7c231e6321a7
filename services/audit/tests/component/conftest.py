"""The audit service in-process against a real nats-server, driven as in
production: producers' events on their streams, people over gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from nats.js import JetStreamContext

from audit.bootstrap import bootstrap
from audit.config import AuditSettings
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import audit_service_pb2_grpc as api_grpc
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event

CASE = "C-20240501-0001"
AUDITOR = Caller("u-aud", "auditor", "D80-audit")


@dataclass
class Audit:
    runtime: ServiceRuntime[AuditUnitOfWork]
    stub: api_grpc.AuditServiceAsyncStub
    js: JetStreamContext
    settings: AuditSettings

    async def publish(
        self, producer: str, message: Message, subject: str, case_id: str = CASE
    ) -> str:
        """What a producer's outbox relay does: the svckit envelope on its stream."""
        env = await publish_event(self.js, message, subject, case_id=case_id, service=producer)
        return env.id

    async def entries(self) -> int:
        check = await self.stub.VerifyLedger(api.VerifyLedgerRequest(), metadata=AUDITOR.metadata())
        assert check.ok, check.problem
        return int(check.entries_checked)

    async def published_then_recorded(
        self, producer: str, message: Message, subject: str, case_id: str = CASE
    ) -> None:
        """Publish, then wait until the ledger holds it, so the ledger order is the story's."""
        before = await self.entries()
        await self.publish(producer, message, subject, case_id)
        await eventually(lambda: self.has_entries(before + 1), timeout=15)

    async def has_entries(self, count: int) -> bool:
        return await self.entries() >= count


@pytest.fixture
def audit_settings(tmp_path: Path, nats_server: NatsServer) -> AuditSettings:
    return AuditSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path / "audit",
        grpc_port=0,
        tree_head_every_entries=4,
        tree_head_every_seconds=3600,
    )


@pytest.fixture
async def audit(audit_settings: AuditSettings) -> AsyncIterator[Audit]:
    runtime = await bootstrap(audit_settings)
    task = asyncio.create_task(runtime.run())
    assert runtime.grpc is not None
    chan = channel(runtime.grpc.address)
    await asyncio.wait_for(chan.channel_ready(), 10)
    try:
        stub: api_grpc.AuditServiceAsyncStub = api_grpc.AuditServiceStub(chan)  # type: ignore[assignment]
        yield Audit(runtime, stub, runtime.js, audit_settings)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 30)
        await chan.close()


async def status_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    code: grpc.StatusCode = error.value.code()
    return code
