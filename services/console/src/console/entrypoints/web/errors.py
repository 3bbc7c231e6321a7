"""Refusals as HTTP: domain errors and the services' gRPC status codes become
4xx/5xx with a reason (JSON for the API, a page for people); a missing
session redirects a page to the login form and answers the API with 401."""

from __future__ import annotations

import grpc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from grpc import aio
from starlette.exceptions import HTTPException

from console.entrypoints.web.deps import LoginRequiredError, is_api, login_url, render
from console.service_layer.identity import LoginThrottledError
from svckit import errors

HTTP_FOR_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

HTTP_FOR_DOMAIN: dict[type[errors.DomainError], int] = {
    errors.InvalidArgumentError: 400,
    errors.UnauthenticatedError: 401,
    errors.PermissionDeniedError: 403,
    errors.NotFoundError: 404,
    errors.AlreadyExistsError: 409,
    errors.FailedPreconditionError: 409,
    LoginThrottledError: 429,
}


def status_for_domain(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_FOR_DOMAIN:
            return HTTP_FOR_DOMAIN[cls]
    return 400


def refusal(request: Request, status: int, detail: str) -> Response:
    if request.url.path.startswith("/open311/"):
        # GeoReport v2 errors: a list of {code, description}.
        return JSONResponse([{"code": status, "description": detail}], status_code=status)
    if is_api(request):
        return JSONResponse({"detail": detail}, status_code=status)
    return render(request, "error.html", {"status": status, "detail": detail}, status_code=status)


def grpc_detail(exc: aio.AioRpcError) -> str:
    if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
        return f"not available yet: the service does not implement this call ({exc.details()})"
    return str(exc.details() or exc.code().name)


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, _: LoginRequiredError) -> Response:
        if is_api(request):
            return JSONResponse({"detail": "login required"}, status_code=401)
        return RedirectResponse(login_url(request), status_code=303)

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> Response:
        response = refusal(request, status_for_domain(exc), str(exc))
        if isinstance(exc, LoginThrottledError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(aio.AioRpcError)
    async def _grpc(request: Request, exc: aio.AioRpcError) -> Response:
        return refusal(request, HTTP_FOR_GRPC.get(exc.code(), 502), grpc_detail(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        response = refusal(request, exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        status = 400 if request.url.path.startswith("/open311/") else 422
        if is_api(request) and status == 422:
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        return refusal(request, status, problems)
