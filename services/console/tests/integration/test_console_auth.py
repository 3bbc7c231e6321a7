"""Logins, sessions, CSRF and rate limiting, through the real HTTP app and a
SQLite or PostgreSQL store (stand-in services behind)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
from argon2 import PasswordHasher

from console.adapters.passwords import Passwords
from console.domain.access import Role
from console.domain.accounts import CLI_ADMINISTRATOR, new_user
from console.domain.ratelimit import LoginLimits
from console.entrypoints.web.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from console.service_layer import accounts
from services.console.tests.console_testing import PASSWORD, ConsoleUnderTest, build_console, login


async def test_unauthenticated_pages_redirect_to_login_and_api_says_401(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        page = await http.get("/cases/case-1?lang=en")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fcases%2Fcase-1%3Flang%3Den"
        assert (await http.get("/api/cases")).status_code == 401
        refused = await http.post("/api/cases/case-1/file", json={"note": "x"})
        assert refused.status_code == 401 and refused.json() == {"detail": "login required"}
        assert (await http.get("/api/events")).status_code == 401
    assert console.world.calls == []


async def test_api_login_sets_a_hardened_cookie_and_returns_the_csrf_token(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        bad = await http.post(
            "/api/session", json={"user_id": "operator", "password": "wrong password"}
        )
        assert bad.status_code == 401 and "wrong user name or password" in bad.text
        unknown = await http.post(
            "/api/session", json={"user_id": "nobody", "password": "wrong password"}
        )
        assert unknown.status_code == 401 and unknown.json() == bad.json()
        reply = await http.post("/api/session", json={"user_id": "operator", "password": PASSWORD})
        assert reply.status_code == 200
        body = reply.json()
        assert body["role"] == "operator" and body["home"] == "/" and len(body["csrf_token"]) > 30
        cookie = reply.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Secure" not in cookie
        assert (await http.get("/api/session")).json()["csrf_token"] == body["csrf_token"]


async def test_login_refuses_a_form_post_of_json_credentials(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        reply = await http.post(
            "/api/session",
            content=b'{"user_id": "operator", "password": "correct horse battery"}',
            headers={"content-type": "text/plain"},
        )
        assert reply.status_code in (415, 422)
        assert SESSION_COOKIE not in http.cookies


async def test_secure_cookies_when_configured(database_url: str) -> None:
    under_test = await build_console(database_url)
    under_test.web.options = replace(under_test.web.options, cookie_secure=True)
    try:
        async with under_test.client() as http:
            reply = await http.post(
                "/api/session", json={"user_id": "operator", "password": PASSWORD}
            )
            assert "Secure" in reply.headers["set-cookie"]
    finally:
        await under_test.engine.dispose()


async def test_login_form_needs_its_double_submit_token_and_rotates_the_session(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        page = await http.get("/login?next=/cases/case-1")
        assert page.status_code == 200 and 'name="csrf_token"' in page.text
        token = http.cookies[LOGIN_CSRF_COOKIE]
        form = {"user_id": "operator", "password": PASSWORD, "next": "/cases/case-1"}
        refused = await http.post("/login", data=form)
        assert refused.status_code == 403 and SESSION_COOKIE not in http.cookies
        http.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
        reply = await http.post("/login", data={**form, "csrf_token": token})
        assert reply.status_code == 303 and reply.headers["location"] == "/cases/case-1"
        issued = [c for c in reply.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
        assert issued and "planted-by-an-attacker" not in issued[0]


async def test_login_form_never_redirects_off_site(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await http.get("/login")
        token = http.cookies[LOGIN_CSRF_COOKIE]
        reply = await http.post(
            "/login",
            data={
                "user_id": "transport",
                "password": PASSWORD,
                "next": "//evil.example/",
                "csrf_token": token,
            },
        )
        assert reply.status_code == 303 and reply.headers["location"] == "/orders"


async def test_state_changes_without_the_csrf_token_are_refused(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "operator")
        missing = await http.post("/api/cases/case-1/file", json={"note": "立案"})
        wrong = await http.post(
            "/api/cases/case-1/file", json={"note": "立案"}, headers={"X-CSRF-Token": "guess"}
        )
        assert missing.status_code == 403 and wrong.status_code == 403
        assert "CSRF" in missing.json()["detail"]
        assert console.world.calls_to("FileCase") == []
        ok = await http.post(
            "/api/cases/case-1/file", json={"note": "立案"}, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 200, ok.text
    [call] = console.world.calls_to("FileCase")
    # The service sees the logged-in person, never a shared console identity.
    assert (call.user, call.role, call.department) == ("operator", "operator", "centre")
    assert call.request.note == "立案" and call.request.request_id


async def test_logout_needs_the_token_and_ends_the_session(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "operator")
        assert (await http.delete("/api/session")).status_code == 403
        assert (await http.get("/api/session")).status_code == 200
        assert (
            await http.delete("/api/session", headers={"X-CSRF-Token": csrf})
        ).status_code == 200
        assert (await http.get("/api/session")).status_code == 401


async def test_a_stolen_cookie_stops_working_after_logout(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "operator")
        stolen = http.cookies[SESSION_COOKIE]
        await http.delete("/api/session", headers={"X-CSRF-Token": csrf})
    async with console.client(cookies={SESSION_COOKIE: stolen}) as thief:
        assert (await thief.get("/api/cases")).status_code == 401


async def test_disabling_a_user_ends_their_sessions(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "operator")
        async with console.web.uow() as uow:
            await uow.users.set_active("operator", False)
            await uow.commit()
        assert (await http.get("/api/cases")).status_code == 401
        again = await http.post("/api/session", json={"user_id": "operator", "password": PASSWORD})
        assert again.status_code == 401


async def test_failed_logins_are_limited_per_user_name(database_url: str) -> None:
    under_test = await build_console(database_url, LoginLimits(per_user=3, per_ip=100))
    try:
        async with under_test.client() as http:
            for _ in range(3):
                reply = await http.post(
                    "/api/session", json={"user_id": "operator", "password": "nope nope"}
                )
                assert reply.status_code == 401
            blocked = await http.post(
                "/api/session", json={"user_id": "operator", "password": PASSWORD}
            )
            assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
            # Another user from the same address is not affected by this user's limit.
            assert (
                await http.post("/api/session", json={"user_id": "inspector", "password": PASSWORD})
            ).status_code == 200
        async with under_test.web.uow() as uow:
            stored = await uow.attempts.failures(
                since=datetime(2000, 1, 1, tzinfo=UTC), user_id="operator"
            )
        assert len(stored) == 3
    finally:
        await under_test.engine.dispose()


async def test_failed_logins_are_limited_per_address(database_url: str) -> None:
    under_test = await build_console(database_url, LoginLimits(per_user=100, per_ip=3))
    try:
        async with under_test.client(client=("10.9.9.9", 5000)) as sprayer:
            for user in ("operator", "inspector", "auditor"):
                reply = await sprayer.post(
                    "/api/session", json={"user_id": user, "password": "nope nope"}
                )
                assert reply.status_code == 401
            blocked = await sprayer.post(
                "/api/session", json={"user_id": "admin", "password": PASSWORD}
            )
            assert blocked.status_code == 429
        async with under_test.client(client=("10.1.1.1", 5000)) as elsewhere:
            assert (
                await elsewhere.post(
                    "/api/session", json={"user_id": "admin", "password": PASSWORD}
                )
            ).status_code == 200
    finally:
        await under_test.engine.dispose()


async def test_passwords_are_argon2id_and_weak_hashes_are_upgraded_at_login(
    console: ConsoleUnderTest,
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    await accounts.create_user(
        console.web.uow(),
        Passwords(weak),
        new_user("legacy", Role.OPERATOR, "centre"),
        PASSWORD,
        CLI_ADMINISTRATOR,
    )
    async with console.web.uow() as uow:
        before = await uow.users.get("legacy")
    assert before is not None and before.password_hash.startswith("$argon2id$")
    assert PASSWORD not in before.password_hash
    async with console.client() as http:
        await login(http, "legacy")
    async with console.web.uow() as uow:
        after = await uow.users.get("legacy")
    assert after is not None and after.password_hash != before.password_hash
    assert "m=64" in after.password_hash  # the console's current parameters


async def test_api_clients_log_in_with_http_basic_never(console: ConsoleUnderTest) -> None:
    """Credentials go to /api/session only; other endpoints ignore Authorization headers."""
    async with console.client() as http:
        reply = await http.get("/api/cases", auth=httpx.BasicAuth("operator", PASSWORD))
        assert reply.status_code == 401


async def test_the_logout_form_carries_the_token_in_a_field(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "operator")
        page = await http.get("/cases")
        assert f'name="csrf_token" value="{csrf}"' in page.text
        reply = await http.post("/logout", data={"csrf_token": csrf})
        assert reply.status_code == 303 and reply.headers["location"] == "/login"
        assert (await http.get("/api/session")).status_code == 401
