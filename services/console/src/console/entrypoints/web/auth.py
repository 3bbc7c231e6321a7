"""Logging in and out: the login form (pages) and /api/session (scripts, the
e2e suite). The login form is protected by a double-submit CSRF cookie (there
is no session yet); every later state change by the session's own token."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from console.domain.access import Principal
from console.entrypoints.web.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_ip,
    csrf_guard,
    current_session,
    render,
    safe_next,
    session_of,
    web,
)
from console.service_layer.identity import PasswordCredentials
from console.service_layer.sessions import SessionInfo, csrf_matches

router = APIRouter()


class LoginBody(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SessionView(BaseModel):
    user_id: str
    role: str
    department_id: str
    display_name: str
    csrf_token: str
    home: str


def _view(info: SessionInfo) -> SessionView:
    p = info.principal
    return SessionView(
        user_id=p.user_id,
        role=p.role.value,
        department_id=p.department_id,
        display_name=p.display_name,
        csrf_token=info.csrf_token,
        home=p.home,
    )


async def _log_in(request: Request, response: Response, user_id: str, password: str) -> SessionInfo:
    app = web(request)
    who: Principal = await app.identity.authenticate(
        PasswordCredentials(
            user_id=user_id.strip(), password=password, client_ip=client_ip(request)
        )
    )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await app.sessions.close(old)
    token, info = await app.sessions.open(
        who, client_ip(request), request.headers.get("user-agent", "")
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=app.options.cookie_secure,
        path="/",
        max_age=int(app.sessions.policy.absolute.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return info


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str = "") -> Response:
    info = await session_of(request)
    if info is not None:
        return RedirectResponse(safe_next(next, info.principal.home), status_code=303)
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": safe_next(next, ""), "login_csrf": token})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=web(request).options.cookie_secure,
        path="/login",
    )
    return response


@router.post("/login", include_in_schema=False)
async def login_form(
    request: Request,
    user_id: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        raise HTTPException(403, "CSRF token missing or wrong; reload the login page")
    response = RedirectResponse("/", status_code=303)
    info = await _log_in(request, response, user_id, password)
    response.headers["location"] = safe_next(next, info.principal.home)
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(csrf_guard)])
async def logout_form(request: Request) -> Response:
    await web(request).sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/api/session", tags=["session"], summary="Log in (sets the session cookie)")
async def api_login(request: Request, body: LoginBody, response: Response) -> SessionView:
    """Logs in with a user name and password. The reply carries the CSRF token
    every later POST/PUT/DELETE must send in the X-CSRF-Token header. Only JSON
    bodies are accepted, so a cross-site form cannot log a browser in."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send the credentials as application/json")
    return _view(await _log_in(request, response, body.user_id, body.password))


@router.get("/api/session", tags=["session"], summary="The current session and its CSRF token")
async def api_session(info: Annotated[SessionInfo, Depends(current_session)]) -> SessionView:
    return _view(info)


@router.delete(
    "/api/session", tags=["session"], summary="Log out", dependencies=[Depends(csrf_guard)]
)
async def api_logout(request: Request, response: Response) -> dict[str, Any]:
    await web(request).sessions.close(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"logged_out": True}
