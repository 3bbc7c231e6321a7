"""What every route needs: the application's parts, the logged-in principal,
CSRF protection, the reader's language, and page rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console.adapters.i18n import Catalogues, pick_language
from console.adapters.passwords import Passwords
from console.domain import states
from console.domain.access import Permission, Principal
from console.service_layer.context import Console
from console.service_layer.identity import IdentityProvider
from console.service_layer.live import LiveHub
from console.service_layer.sessions import SessionInfo, SessionManager, csrf_matches
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from console.service_layer.views import now_label
from svckit.clock import utcnow

SESSION_COOKIE = "cityops_session"
LOGIN_CSRF_COOKIE = "cityops_login_csrf"
LANG_COOKIE = "lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
TEMPLATES.env.globals.update(
    role_labels=states.ROLE_LABELS,
    risk_labels=states.RISK_LABELS,
    evidence_kinds=states.EVIDENCE_KINDS,
    evidence_flags=states.EVIDENCE_FLAGS,
)


@dataclass(frozen=True)
class WebOptions:
    cookie_secure: bool = False
    trust_forwarded_for: bool = False
    open311_api_keys: dict[str, str] = field(default_factory=dict)
    open311_require_api_key: bool = False
    city_geojson: Path | None = None
    heartbeat_seconds: float = 15.0
    static_dir: Path | None = None


@dataclass
class WebApp:
    console: Console
    sessions: SessionManager
    identity: IdentityProvider
    uow: Callable[[], ConsoleUnitOfWork]
    hub: LiveHub
    catalogues: Catalogues
    passwords: Passwords
    options: WebOptions = field(default_factory=WebOptions)


class LoginRequiredError(Exception):
    """No valid session: pages redirect to the login page, the API answers 401."""


def web(request: Request) -> WebApp:
    app: WebApp = request.app.state.web
    return app


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def client_ip(request: Request) -> str:
    if web(request).options.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "unknown"


async def session_of(request: Request) -> SessionInfo | None:
    """The request's session, resolved once per request."""
    if not hasattr(request.state, "session"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.session = await web(request).sessions.resolve(token)
    info: SessionInfo | None = request.state.session
    return info


async def current_session(request: Request) -> SessionInfo:
    info = await session_of(request)
    if info is None:
        raise LoginRequiredError()
    return info


async def principal(request: Request) -> Principal:
    """The logged-in person; a dependency of every route that needs one."""
    return (await current_session(request)).principal


async def csrf_guard(request: Request) -> None:
    """Every state-changing request of a session must carry the session's CSRF
    token, in the X-CSRF-Token header (API, scripts) or a csrf_token form field."""
    if request.method not in UNSAFE_METHODS:
        return
    info = await current_session(request)
    presented = request.headers.get(CSRF_HEADER)
    if not presented and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_matches(info.csrf_token, presented):
        raise HTTPException(403, "CSRF token missing or wrong")


def language(request: Request) -> str:
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def translator(request: Request) -> Callable[[str], str]:
    return web(request).catalogues.gettext(language(request))


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def safe_next(target: str | None, fallback: str) -> str:
    """Only local paths: an open redirect would let a link log someone in elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return fallback


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    lang = language(request)
    info: SessionInfo | None = getattr(request.state, "session", None)
    who = info.principal if info else None
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "_": web(request).catalogues.gettext(lang),
            "principal": who,
            "can": (lambda perm: bool(who and who.can(Permission(perm)))),
            "csrf_token": info.csrf_token if info else "",
            "now": now_label(utcnow()),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            samesite="lax",
            secure=web(request).options.cookie_secure,
            max_age=365 * 86400,
        )
    return response
