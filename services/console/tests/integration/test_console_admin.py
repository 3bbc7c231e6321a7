"""Administrators change accounts through the API; every change ends the
sessions that lost powers and leaves an event in the outbox for the ledger,
and a refused change leaves nothing behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityops.common.v1 import common_pb2
from cityops.console.v1 import events_pb2
from services.console.tests.console_testing import PASSWORD, ConsoleUnderTest, login
from svckit.messaging.subjects import ACCOUNT_CHANGED, DEPARTMENT_CREATED
from svckit.tables import OutboxMessage

NEW_PASSWORD = "a-brand-new-passphrase"


async def outbox(console: ConsoleUnderTest) -> list[OutboxMessage]:
    async with AsyncSession(console.engine) as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.position)))
        return list(rows)


@asynccontextmanager
async def admin_client(
    console: ConsoleUnderTest,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with console.client() as http:
        csrf = await login(http, "admin")
        yield http, {"X-CSRF-Token": csrf}


def account_events(rows: list[OutboxMessage]) -> list[events_pb2.AccountChanged]:
    return [
        events_pb2.AccountChanged.FromString(r.body) for r in rows if r.subject == ACCOUNT_CHANGED
    ]


async def test_seeded_accounts_and_departments_are_announced(console: ConsoleUnderTest) -> None:
    rows = await outbox(console)
    created = account_events(rows)
    assert {e.user_id for e in created} == {
        "operator",
        "supervisor",
        "inspector",
        "auditor",
        "admin",
        "transport",
        "water",
    }
    assert all(e.change == events_pb2.ACCOUNT_CHANGE_CREATED and e.active for e in created)
    assert all(e.by.role == common_pb2.ACTOR_ROLE_SYSTEM for e in created)
    departments = [r for r in rows if r.subject == DEPARTMENT_CREATED]
    assert "D01-transport" in {
        events_pb2.DepartmentCreated.FromString(r.body).department_id for r in departments
    }
    # No event carries a password or its hash.
    assert not any(b"argon2" in r.body or PASSWORD.encode() in r.body for r in rows)


async def test_a_role_change_is_recorded_and_ends_the_accounts_sessions(
    console: ConsoleUnderTest,
) -> None:
    before = len(await outbox(console))
    async with console.client() as victim:
        await login(victim, "operator")
        assert (await victim.get("/api/session")).status_code == 200
        async with admin_client(console) as (http, headers):
            reply = await http.patch(
                "/api/admin/users/operator",
                json={"role": "supervisor", "display_name": "值班长 2"},
                headers=headers,
            )
            assert reply.status_code == 200, reply.text
            assert reply.json() == {
                "user_id": "operator",
                "role": "supervisor",
                "department_id": "centre",
                "display_name": "值班长 2",
                "active": True,
            }
        assert (await victim.get("/api/session")).status_code == 401
    [event] = account_events((await outbox(console))[before:])
    assert event.change == events_pb2.ACCOUNT_CHANGE_UPDATED
    assert (event.user_id, event.role) == ("operator", common_pb2.ACTOR_ROLE_SUPERVISOR)
    assert (event.by.user_id, event.by.role) == ("admin", common_pb2.ACTOR_ROLE_ADMIN)
    assert event.client_address == "10.0.0.1"


async def test_deactivation_ends_sessions_and_refuses_logins_until_reactivated(
    console: ConsoleUnderTest,
) -> None:
    before = len(await outbox(console))
    async with console.client() as victim:
        await login(victim, "transport")
        async with admin_client(console) as (http, headers):
            off = await http.patch(
                "/api/admin/users/transport", json={"active": False}, headers=headers
            )
            assert off.status_code == 200 and off.json()["active"] is False
            assert (await victim.get("/api/session")).status_code == 401
            refused = await victim.post(
                "/api/session", json={"user_id": "transport", "password": PASSWORD}
            )
            assert refused.status_code == 401
            again = await http.patch(
                "/api/admin/users/transport", json={"active": False}, headers=headers
            )
            assert again.status_code == 200  # already inactive: nothing to record
            on = await http.patch(
                "/api/admin/users/transport", json={"active": True}, headers=headers
            )
            assert on.status_code == 200 and on.json()["active"] is True
        await login(victim, "transport")
    changes = [e.change for e in account_events((await outbox(console))[before:])]
    assert changes == [
        events_pb2.ACCOUNT_CHANGE_DEACTIVATED,
        events_pb2.ACCOUNT_CHANGE_REACTIVATED,
    ]


async def test_a_password_reset_replaces_the_password_and_records_no_secret(
    console: ConsoleUnderTest,
) -> None:
    before = len(await outbox(console))
    async with admin_client(console) as (http, headers):
        reply = await http.post(
            "/api/admin/users/water/password", json={"password": NEW_PASSWORD}, headers=headers
        )
        assert reply.status_code == 204, reply.text
    async with console.client() as user:
        old = await user.post("/api/session", json={"user_id": "water", "password": PASSWORD})
        assert old.status_code == 401
        await login(user, "water", NEW_PASSWORD)
    rows = (await outbox(console))[before:]
    [event] = account_events(rows)
    assert event.change == events_pb2.ACCOUNT_CHANGE_PASSWORD_RESET
    assert not any(NEW_PASSWORD.encode() in r.body or b"argon2" in r.body for r in rows)


async def test_creating_a_department_and_a_user_is_recorded(console: ConsoleUnderTest) -> None:
    before = len(await outbox(console))
    async with admin_client(console) as (http, headers):
        dept = await http.post(
            "/api/admin/departments",
            json={"department_id": "D03-parks", "name_zh": "东湖区园林局", "district_code": "D01"},
            headers=headers,
        )
        assert dept.status_code == 201, dept.text
        user = await http.post(
            "/api/admin/users",
            json={
                "user_id": "parks",
                "role": "department_user",
                "department_id": "D03-parks",
                "password": NEW_PASSWORD,
            },
            headers=headers,
        )
        assert user.status_code == 201, user.text
    rows = (await outbox(console))[before:]
    assert [r.subject for r in rows] == [DEPARTMENT_CREATED, ACCOUNT_CHANGED]
    created = events_pb2.DepartmentCreated.FromString(rows[0].body)
    assert (created.department_id, created.name_zh, created.by.user_id) == (
        "D03-parks",
        "东湖区园林局",
        "admin",
    )
    [account] = account_events(rows)
    assert (account.user_id, account.department_id) == ("parks", "D03-parks")


async def refused(console: ConsoleUnderTest, method: str, path: str, body: dict[str, Any]) -> Any:
    async with admin_client(console) as (http, headers):
        return await http.request(method, path, json=body, headers=headers)


async def test_refused_changes_say_why_and_change_nothing(console: ConsoleUnderTest) -> None:
    before_rows = len(await outbox(console))
    async with console.web.uow() as uow:
        before_users = await uow.users.list()
    cases = [
        ("PATCH", "/api/admin/users/nobody", {"role": "operator"}, 404, "not found"),
        ("PATCH", "/api/admin/users/operator", {"role": "mayor"}, 400, "role"),
        ("PATCH", "/api/admin/users/operator", {}, 400, "nothing to change"),
        ("PATCH", "/api/admin/users/transport", {"department_id": ""}, 400, "department"),
        ("PATCH", "/api/admin/users/transport", {"department_id": "NOPE"}, 400, "does not exist"),
        ("PATCH", "/api/admin/users/admin", {"active": False}, 409, "own account"),
        ("PATCH", "/api/admin/users/admin", {"role": "operator"}, 409, "own account"),
        ("POST", "/api/admin/users/water/password", {"password": "short"}, 400, "at least"),
        ("POST", "/api/admin/users/nobody/password", {"password": NEW_PASSWORD}, 404, "not found"),
    ]
    for method, path, body, status, reason in cases:
        reply = await refused(console, method, path, body)
        assert reply.status_code == status, (path, body, reply.text)
        assert reason in reply.json()["detail"], (path, body, reply.text)
    assert len(await outbox(console)) == before_rows
    async with console.web.uow() as uow:
        assert await uow.users.list() == before_users
