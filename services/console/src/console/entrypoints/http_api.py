"""The console's HTTP application: pages, the REST API they act through,
Open311 and live events, behind sessions and CSRF protection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from console.adapters.assets import STATIC_DIR
from console.entrypoints.web import (
    api_admin,
    api_audit,
    api_cases,
    api_orders,
    auth,
    errors,
    live,
    open311,
    pages,
)
from console.entrypoints.web.deps import UNSAFE_METHODS, WebApp, csrf_guard

DESCRIPTION = """\
The REST API of the CityOps operations console. Every action a screen takes is
one of these endpoints.

**Authentication**: `POST /api/session` with `{"user_id", "password"}` sets the
session cookie (HttpOnly, SameSite=Lax) and returns `csrf_token`. Every POST,
PUT and DELETE must send it in the `X-CSRF-Token` header. Requests without a
session get 401. Open311 endpoints (`/open311/v2/...`) use no session: they are
for citizens' apps and the hotline, identified by `api_key`.
"""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # The console uses no camera, microphone, location or payment API: a
    # script slipped in through a dependency cannot either.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Sent only when the console is served over HTTPS (`cookie_secure`): on plain
# http://127.0.0.1 it would be ignored by browsers anyway, and it must never
# pin a development host to HTTPS.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
# State-changing routes that need no session: logging in (its own CSRF check),
# and Open311 (no cookies, clients identified by api_key).
CSRF_EXEMPT = {("/login", "POST"), ("/api/session", "POST"), ("/open311/v2/requests.json", "POST")}


ROUTERS = (
    auth.router,
    api_cases.router,
    api_orders.router,
    api_audit.router,
    api_admin.router,
    live.router,
    open311.router,
    pages.router,
)


def unsafe_routes() -> list[tuple[str, str, APIRoute]]:
    """Every state-changing (method, path, route) the console serves."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in sorted((route.methods or set()) & UNSAFE_METHODS):
                    found.append((method, route.path, route))
    return found


def check_csrf_coverage() -> None:
    """Fails at start-up if a state-changing route was added without the CSRF guard."""
    for method, path, route in unsafe_routes():
        if (path, method) in CSRF_EXEMPT:
            continue
        if not any(d.call is csrf_guard for d in route.dependant.dependencies):
            raise RuntimeError(f"{method} {path} lacks the CSRF guard")


def create_app(web_app: WebApp, static_dir: Path | None = None) -> FastAPI:
    app = FastAPI(
        title="CityOps console",
        version="0.2.0",
        description=DESCRIPTION,
        docs_url=None,  # Swagger UI would load from a CDN; the spec is at /api/openapi.json
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = web_app

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if web_app.options.cookie_secure:
            response.headers.setdefault(*HSTS)
        if request.url.path.startswith("/api/") or request.url.path.startswith("/cases"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    errors.install(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=static_dir or STATIC_DIR), name="static")
    check_csrf_coverage()
    return app
