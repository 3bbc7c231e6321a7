"""The console as a process: bootstrapped against a real nats-server with
stand-in services, served over real HTTP. Live events travel NATS → SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client

from cityops.console.v1 import events_pb2 as console_events
from cityops.workorders.v1 import events_pb2 as wo_events
from console.bootstrap import ConsoleProcess, bootstrap
from console.config import ConsoleSettings
from services.console.tests.console_testing import World, make_world, stubs
from svckit.messaging import jetstream, subjects
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import stream_for
from svckit.natsserver import NatsServer
from svckit.testing.polling import eventually
from svckit.testing.streams import publish_event, stream_events

DEMO_PASSWORD = "demo-password-for-tests"


@dataclass
class Running:
    process: ConsoleProcess
    world: World
    url: str


@pytest.fixture
async def running(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Running]:
    settings = ConsoleSettings(
        nats_url=nats_server.url,
        data_dir=tmp_path,
        http_port=0,
        seed_demo_users=True,
        demo_password=DEMO_PASSWORD,
        sse_heartbeat_seconds=0.5,
        log_format="console",
    )
    world = make_world()
    process = await bootstrap(settings, clients=stubs(world))
    task = asyncio.create_task(process.run())
    await eventually(lambda: process.http.started or task.done(), timeout=30)
    try:
        yield Running(process, world, process.http.url)
    finally:
        process.runtime.request_stop()
        await asyncio.wait_for(task, timeout=30)


async def _login(http: httpx.AsyncClient, user: str) -> str:
    reply = await http.post("/api/session", json={"user_id": user, "password": DEMO_PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["csrf_token"])


async def test_demo_users_exist_for_every_role_and_department(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        for user in ("operator", "auditor", "dept-D01-transport"):
            await _login(http, user)
        assert (await http.get("/api/session")).json()["department_id"] == "D01-transport"
        vendor = await http.get("/static/vendor/leaflet.js")
        assert vendor.status_code == 200 and "Leaflet" in vendor.text[:2000]


async def _events(response: httpx.Response, out: list[str]) -> None:
    async for line in response.aiter_lines():
        out.append(line)


async def test_live_events_reach_the_browsers_that_may_see_them(
    running: Running, nats_client: Client
) -> None:
    js = nats_client.jetstream()
    await jetstream.ensure_stream(js, stream_for("workorders"))
    hub = running.process.web.hub
    async with (
        httpx.AsyncClient(base_url=running.url, timeout=30) as operator,
        httpx.AsyncClient(base_url=running.url, timeout=30) as transport,
    ):
        await _login(operator, "operator")
        await _login(transport, "dept-D01-transport")
        seen_by_operator: list[str] = []
        seen_by_transport: list[str] = []
        async with (
            operator.stream("GET", "/api/events") as op_stream,
            transport.stream("GET", "/api/events") as tr_stream,
        ):
            assert op_stream.headers["content-type"].startswith("text/event-stream")
            readers = [
                asyncio.create_task(_events(op_stream, seen_by_operator)),
                asyncio.create_task(_events(tr_stream, seen_by_transport)),
            ]
            await eventually(lambda: hub.listeners == 2)
            for order, department in (("o-water", "D02-water"), ("o-road", "D01-transport")):
                await publish_event(
                    js,
                    wo_events.WorkOrderAccepted(
                        order_id=order, case_id="case-3", department_id=department
                    ),
                    subjects.WORKORDER_ACCEPTED,
                    case_id="case-3",
                )
            await eventually(lambda: sum("o-road" in line for line in seen_by_transport) == 1)
            await eventually(lambda: sum("o-road" in line for line in seen_by_operator) == 1)
            for reader in readers:
                reader.cancel()
    # The operator heard both; the transport department only its own order.
    assert any("o-water" in line for line in seen_by_operator)
    assert not any("o-water" in line for line in seen_by_transport)
    assert "event: WorkOrderAccepted" in seen_by_transport


async def test_shutdown_ends_open_event_streams(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        await _login(http, "auditor")
        async with http.stream("GET", "/api/events") as stream:
            lines: list[str] = []
            reader = asyncio.create_task(_events(stream, lines))
            await eventually(lambda: running.process.web.hub.listeners == 1)
            running.process.web.hub.close()
            await asyncio.wait_for(reader, timeout=10)
    assert lines[0] == "retry: 3000"


async def test_account_changes_reach_the_console_stream_for_the_ledger(
    running: Running, nats_client: Client
) -> None:
    """The outbox relay publishes what the admin API recorded: the audit
    service consumes the CONSOLE stream like every other producer's."""
    js = nats_client.jetstream()
    async with httpx.AsyncClient(base_url=running.url) as http:
        csrf = await _login(http, "admin")
        reply = await http.patch(
            "/api/admin/users/operator",
            json={"active": False},
            headers={"X-CSRF-Token": csrf},
        )
        assert reply.status_code == 200, reply.text

    async def deactivation() -> list[IncomingEvent]:
        found = await stream_events(js, stream_for("console").name)
        return [
            e
            for e in found
            if e.subject == subjects.ACCOUNT_CHANGED
            and e.message.change == console_events.ACCOUNT_CHANGE_DEACTIVATED
        ]

    [event] = await eventually(deactivation, timeout=20)
    assert event.message.user_id == "operator" and event.message.by.user_id == "admin"
    seeded = await stream_events(js, stream_for("console").name)
    assert {"operator", "admin", "dept-D01-transport"} <= {
        e.message.user_id for e in seeded if e.subject == subjects.ACCOUNT_CHANGED
    }
