"""HTTP: server-rendered pages and the REST API they are built on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import grpc
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from grpc import aio

from cityops.intake.v1 import case_pb2
from console.adapters.clients import ServiceClients
from console.domain.labels import LANGUAGES, text
from console.service_layer.views import as_json, case_row, now_label, timeline_row

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
HTTP_FOR_GRPC = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def _lang(request: Request, lang: str | None) -> str:
    chosen = lang or request.cookies.get("lang") or "zh-CN"
    return chosen if chosen in LANGUAGES else "zh-CN"


def _states(state: list[str] | None) -> list[case_pb2.CaseState.ValueType]:
    try:
        return [case_pb2.CaseState.Value(s) for s in state or []]
    except ValueError as exc:
        raise HTTPException(
            400, f"unknown state in {state}: use names like CASE_STATE_FILED"
        ) from exc


def create_app(clients_factory: Any) -> FastAPI:
    """`clients_factory()` returns ServiceClients; called at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.clients = clients_factory()
        yield
        await app.state.clients.close()

    app = FastAPI(title="CityOps console", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(aio.AioRpcError)
    async def _grpc_error(_: Request, exc: aio.AioRpcError) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.details()}, status_code=HTTP_FOR_GRPC.get(exc.code(), 502)
        )

    def clients(request: Request) -> ServiceClients:
        result: ServiceClients = request.app.state.clients
        return result

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/cases")
    async def api_cases(
        request: Request,
        state: Annotated[list[str] | None, Query()] = None,
        page_size: Annotated[int, Query(ge=1, le=500)] = 50,
        page_token: str = "",
    ) -> dict[str, Any]:
        reply = await clients(request).list_cases(_states(state), page_size, page_token)
        return as_json(reply)

    @app.get("/api/cases/{case_id}")
    async def api_case(request: Request, case_id: str) -> dict[str, Any]:
        return as_json(await clients(request).get_case(case_id))

    @app.get("/api/cases/{case_id}/timeline")
    async def api_timeline(request: Request, case_id: str) -> dict[str, Any]:
        entries = await clients(request).timeline(case_id)
        return {"entries": [as_json(e) for e in entries]}

    @app.get("/api/ledger/verify")
    async def api_verify_ledger(request: Request) -> dict[str, Any]:
        return as_json(await clients(request).verify_ledger())

    @app.get("/", response_class=HTMLResponse)
    async def case_list(
        request: Request,
        lang: str | None = None,
        state: Annotated[list[str] | None, Query()] = None,
    ) -> HTMLResponse:
        language = _lang(request, lang)
        reply = await clients(request).list_cases(_states(state), 100, "")
        response = TEMPLATES.TemplateResponse(
            request,
            "cases.html",
            {
                "lang": language,
                "t": text(language),
                "cases": [case_row(c, language) for c in reply.cases],
                "total": reply.total_size,
                "now": now_label(),
            },
        )
        response.set_cookie("lang", language, samesite="lax")
        return response

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case_page(request: Request, case_id: str, lang: str | None = None) -> HTMLResponse:
        language = _lang(request, lang)
        case = await clients(request).get_case(case_id)
        try:
            entries = await clients(request).timeline(case_id)
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            entries = []
        return TEMPLATES.TemplateResponse(
            request,
            "case.html",
            {
                "lang": language,
                "t": text(language),
                "case": case_row(case, language),
                "timeline": [timeline_row(e) for e in entries],
            },
        )

    return app
