"""HTTP ingest: the generic `POST /ingest/detections` and the app that carries
every source format's route (see `http_sources`).

Refusals: malformed JSON/XML → 400, unknown vendor → 404, body over the limit
→ 413, unsupported content type → 415, anything the rules refuse → 422 with
one item per problem naming its field. Nothing is stored or published for a
refused request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, ValidationError

from detection.adapters.sources.common import MalformedPayloadError, loads_json
from detection.adapters.sources.schemas import IngestBody
from detection.domain.iot import IotConfig
from detection.domain.problems import InvalidReportError
from detection.domain.rules import IngestPolicy
from detection.domain.vendors import SourceConfig
from detection.entrypoints import http_common as common
from detection.entrypoints.http_sources import sources_router
from detection.service_layer import handlers
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

INGEST_PATH = "/ingest/detections"


class IngestResponse(BaseModel):
    detection_id: str
    duplicate: bool


def create_app(
    *,
    uow: Callable[[], DetectionUnitOfWork],
    policy: IngestPolicy,
    max_body_bytes: int,
    sources: SourceConfig | None = None,
    iot: IotConfig | None = None,
) -> FastAPI:
    """The ingest API; instrumented so each report's request is the root of its case's trace."""
    app = FastAPI(
        title="CityOps detection ingest",
        version="1",
        default_response_class=common.SafeJSONResponse,
    )

    @app.post(
        INGEST_PATH,
        status_code=202,
        response_model=IngestResponse,
        responses={
            200: {"model": IngestResponse, "description": "Already accepted (duplicate)"},
            400: {"description": "Malformed JSON"},
            413: {"description": f"Body over {max_body_bytes} bytes"},
        },
        openapi_extra=common.json_body(common.inline_schema(IngestBody)),
    )
    async def ingest(request: Request) -> JSONResponse:
        raw, sha256 = await common.read_body(request, max_body_bytes)
        body = _generic_body(raw)
        result = await handlers.report_detection(body.to_command(sha256), uow(), policy)
        return common.SafeJSONResponse(
            IngestResponse(
                detection_id=result.detection_id, duplicate=result.duplicate
            ).model_dump(),
            status_code=200 if result.duplicate else 202,
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(
        sources_router(
            uow=uow,
            policy=policy,
            sources=sources or SourceConfig(),
            iot=iot or IotConfig(),
            max_body_bytes=max_body_bytes,
        )
    )
    _install_error_handlers(app)
    # The request's server span only: the ASGI receive and send spans added two
    # spans to every ingest request and tell nothing the server span does not.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz", exclude_spans=["receive", "send"]
    )
    return app


def _generic_body(raw: bytes) -> IngestBody:
    """The generic report; shape errors in FastAPI's own 422 form, as before."""
    data = loads_json(raw)
    if not isinstance(data, dict):
        raise RequestValidationError([common.detail_item("", "body must be a JSON object")])
    try:
        return IngestBody.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


def _install_error_handlers(app: FastAPI) -> None:
    """Every refusal as `{"detail": ...}`, written so that any echoed input can be sent."""
    reply = common.SafeJSONResponse

    @app.exception_handler(RequestValidationError)
    async def shape(_: Request, exc: RequestValidationError) -> JSONResponse:
        return reply({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    @app.exception_handler(MalformedPayloadError)
    async def malformed(_: Request, exc: MalformedPayloadError) -> JSONResponse:
        return reply({"detail": str(exc)}, status_code=400)

    @app.exception_handler(InvalidArgumentError)
    async def invalid(_: Request, exc: InvalidArgumentError) -> JSONResponse:
        detail: Any = (
            common.detail_items(exc.problems) if isinstance(exc, InvalidReportError) else str(exc)
        )
        return reply({"detail": detail}, status_code=422)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return reply({"detail": str(exc)}, status_code=404)

    @app.exception_handler(FailedPreconditionError)
    async def conflict(_: Request, exc: FailedPreconditionError) -> JSONResponse:
        return reply({"detail": str(exc)}, status_code=409)


__all__ = ["INGEST_PATH", "IngestBody", "IngestResponse", "create_app"]
