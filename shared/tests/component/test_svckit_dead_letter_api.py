"""The dead-letter API every service serves: a poison message a real consumer
gave up on is listed to administrators only, replayed to its subject on
request, and leaves the store; bad requests change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from cityops.intake.v1 import case_pb2, events_pb2
from cityops.ops.v1 import dead_letters_pb2 as pb
from cityops.ops.v1 import dead_letters_pb2_grpc
from svckit.errors import PermanentError
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED, stream_for
from svckit.metrics import DEAD_LETTERS_WAITING
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event, stream_messages
from svckit.uow import SqlUnitOfWork

ADMIN = Caller("ops-1", "admin").metadata()
OPERATOR = Caller("op-1", "operator").metadata()


@pytest.fixture
async def consumer(
    tmp_path: Path, nats_server: NatsServer
) -> AsyncIterator[ServiceRuntime[SqlUnitOfWork]]:
    """A dispatch-like consumer of INTAKE that refuses case C-poison for good."""
    settings = ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path)
    runtime = ServiceRuntime("dispatch", settings, SqlUnitOfWork)
    await runtime.start_infrastructure()

    async def handle(event: IncomingEvent, _uow: SqlUnitOfWork) -> None:
        if getattr(event.message, "case", None) and event.message.case.case_id == "C-poison":
            raise PermanentError("this case cannot be dispatched")

    await runtime.subscribe("intake", handle)
    runtime.serve_grpc(0, [])
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 30)


async def test_poison_is_listed_to_admins_replayed_and_gone(
    consumer: ServiceRuntime[SqlUnitOfWork],
) -> None:
    js = consumer.js
    await publish_event(
        js,
        events_pb2.CaseFiled(case=case_pb2.Case(case_id="C-poison", category_code="E0105")),
        CASE_FILED,
    )
    assert consumer.grpc is not None
    async with channel(consumer.grpc.address) as chan:
        await asyncio.wait_for(chan.channel_ready(), timeout=10)
        stub = dead_letters_pb2_grpc.DeadLetterServiceStub(chan)

        async def listed() -> pb.ListDeadLettersResponse | None:
            reply = await stub.ListDeadLetters(pb.ListDeadLettersRequest(), metadata=ADMIN)
            return reply if reply.total else None

        reply = await eventually(listed, timeout=20)
        [letter] = reply.dead_letters
        assert letter.consumer == "dispatch-intake" and letter.subject == CASE_FILED
        assert "cannot be dispatched" in letter.reason
        assert letter.event_type == "cityops.intake.v1.CaseFiled" and letter.size_bytes > 0

        for metadata, code in (
            (OPERATOR, grpc.StatusCode.PERMISSION_DENIED),
            ((), grpc.StatusCode.UNAUTHENTICATED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListDeadLetters(pb.ListDeadLettersRequest(), metadata=metadata)
            assert refused.value.code() == code
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ReplayDeadLetters(
                    pb.ReplayDeadLettersRequest(all=True), metadata=metadata
                )
            assert refused.value.code() == code
        for bad in (
            pb.ReplayDeadLettersRequest(),
            pb.ReplayDeadLettersRequest(ids=[letter.id], all=True),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ReplayDeadLetters(bad, metadata=ADMIN)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (await stub.ListDeadLetters(pb.ListDeadLettersRequest(), metadata=ADMIN)).total == 1

        before = len(await stream_messages(js, stream_for("intake").name))
        replayed = await stub.ReplayDeadLetters(
            pb.ReplayDeadLettersRequest(ids=[letter.id, 999]), metadata=ADMIN
        )
        assert (replayed.replayed, list(replayed.not_found)) == (1, [999])
        after = await stream_messages(js, stream_for("intake").name)
        assert len(after) == before + 1 and after[-1].subject == CASE_FILED
        # Still poison: the consumer dead-letters it again (a fix would have let it through).
        again = await eventually(listed, timeout=20)
        assert again.total == 1 and again.dead_letters[0].message_id.startswith("replay-")
    await consumer.metrics.sample_once()
    assert DEAD_LETTERS_WAITING._value.get() == 1  # type: ignore[attr-defined]
