"""Browser-facing hardening: security headers on every kind of response, and
login limits keyed on the real client address behind a trusted proxy but
never on a header a client could forge."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.domain.ratelimit import LoginLimits
from console.entrypoints.http_api import HSTS, SECURITY_HEADERS
from services.console.tests.console_testing import (
    PASSWORD,
    ConsoleUnderTest,
    build_console,
    login,
)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),  # a page
        ("/api/cases", 200),  # the JSON API
        ("/healthz", 200),
        ("/api/cases/nope-404", 404),
        ("/static/app.css", 200),
    ],
)
async def test_every_response_carries_the_security_headers(
    console: ConsoleUnderTest, path: str, status: int
) -> None:
    async with console.client() as http:
        await login(http, "operator")
        reply = await http.get(path)
    assert reply.status_code == status, reply.text
    for header, value in SECURITY_HEADERS.items():
        assert reply.headers[header] == value, header
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1]
    assert "frame-ancestors 'none'" in csp
    assert HSTS[0] not in reply.headers  # plain HTTP: never pin a development host


async def test_refusals_carry_the_headers_too(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        reply = await http.get("/api/cases")
    assert reply.status_code == 401
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"


async def test_hsts_is_sent_when_served_over_https(console: ConsoleUnderTest) -> None:
    console.web.options = replace(console.web.options, cookie_secure=True)
    async with console.client() as http:
        reply = await http.get("/healthz")
    assert reply.headers[HSTS[0]] == HSTS[1]


async def _fail(console: ConsoleUnderTest, forwarded_for: str, user: str) -> int:
    async with console.client(client=("10.0.0.2", 443)) as http:  # the ingress
        reply = await http.post(
            "/api/session",
            json={"user_id": user, "password": "wrong wrong"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return reply.status_code


async def _try(console: ConsoleUnderTest, forwarded_for: str, user: str) -> int:
    async with console.client(client=("10.0.0.2", 443)) as http:
        reply = await http.post(
            "/api/session",
            json={"user_id": user, "password": PASSWORD},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return reply.status_code


async def test_behind_a_trusted_ingress_the_limit_is_per_real_client(database_url: str) -> None:
    console = await build_console(database_url, LoginLimits(per_user=100, per_ip=3))
    console.web.options = replace(console.web.options, trust_forwarded_for=True)
    try:
        for user in ("operator", "inspector", "auditor"):
            assert await _fail(console, "203.0.113.7, 10.0.0.2", user) == 401
        # The sprayer is blocked; another citizen behind the same ingress is not.
        assert await _try(console, "203.0.113.7", "admin") == 429
        assert await _try(console, "198.51.100.4", "admin") == 200
    finally:
        await console.engine.dispose()


async def test_without_trust_a_forged_forwarded_for_does_not_escape_the_limit(
    database_url: str,
) -> None:
    console = await build_console(database_url, LoginLimits(per_user=100, per_ip=3))
    try:
        for n, user in enumerate(("operator", "inspector", "auditor")):
            assert await _fail(console, f"192.0.2.{n}", user) == 401
        assert await _try(console, "192.0.2.99", "admin") == 429
    finally:
        await console.engine.dispose()
