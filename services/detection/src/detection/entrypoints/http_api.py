"""HTTP ingest: `POST /ingest/detections` turns a source's JSON report into a command.

The body is read by hand rather than by FastAPI's model binding because the
service needs the raw bytes (their sha256 is kept as provenance), must cap
their size while reading, and answers malformed JSON with 400, not 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, NoReturn

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, ConfigDict, FiniteFloat, ValidationError

from detection.domain.commands import EvidenceInput, ReportDetection
from detection.domain.rules import IngestPolicy, InvalidReportError
from detection.service_layer import handlers
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.errors import InvalidArgumentError

INGEST_PATH = "/ingest/detections"


class _Strict(BaseModel):
    # Strict types (no "1.5" for a number, no 1 for a string); unknown fields are
    # refused so a misspelt optional field is reported instead of silently lost.
    model_config = ConfigDict(strict=True, extra="forbid")


class EvidenceBody(_Strict):
    uri: str
    sha256: str
    media_type: str
    size_bytes: int


class IngestBody(_Strict):
    """The shape of a report; what its values may be is decided by `domain.rules`."""

    source_id: str
    source_event_id: str
    source_kind: str
    category_code: str
    latitude: FiniteFloat
    longitude: FiniteFloat
    observed_at: str
    confidence: FiniteFloat
    vendor: str = ""
    device_id: str = ""
    description: str = ""
    model_name: str = ""
    model_version: str = ""
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    evidence: list[EvidenceBody] = []

    def to_command(self, raw_payload_sha256: str) -> ReportDetection:
        fields = self.model_dump(exclude={"evidence"})
        evidence = tuple(EvidenceInput(**e.model_dump()) for e in self.evidence)
        return ReportDetection(**fields, evidence=evidence, raw_payload_sha256=raw_payload_sha256)


class IngestResponse(BaseModel):
    detection_id: str
    duplicate: bool


def create_app(
    *, uow: Callable[[], DetectionUnitOfWork], policy: IngestPolicy, max_body_bytes: int
) -> FastAPI:
    """The ingest API; instrumented so each report's request is the root of its case's trace."""
    app = FastAPI(title="CityOps detection ingest", version="1")

    @app.post(
        INGEST_PATH,
        status_code=202,
        response_model=IngestResponse,
        responses={
            200: {"model": IngestResponse, "description": "Already accepted (duplicate)"},
            400: {"description": "Malformed JSON"},
            413: {"description": f"Body over {max_body_bytes} bytes"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _inline_schema(IngestBody)}},
            }
        },
    )
    async def ingest(request: Request) -> JSONResponse:
        raw = await _read_body(request, max_body_bytes)
        body = _parse(raw)
        report = body.to_command(hashlib.sha256(raw).hexdigest())
        result = await handlers.report_detection(report, uow(), policy)
        return JSONResponse(
            IngestResponse(
                detection_id=result.detection_id, duplicate=result.duplicate
            ).model_dump(),
            status_code=200 if result.duplicate else 202,
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(InvalidArgumentError)
    async def invalid(_: Request, exc: InvalidArgumentError) -> JSONResponse:
        if isinstance(exc, InvalidReportError):
            detail: Any = [_detail_item(p.field, p.reason) for p in exc.problems]
        else:
            detail = str(exc)
        return JSONResponse({"detail": detail}, status_code=422)

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/healthz")
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit`:
    from Content-Length if declared, else while streaming (chunked uploads)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> IngestBody:
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise HTTPException(400, f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RequestValidationError([_detail_item("", "body must be a JSON object")])
    try:
        return IngestBody.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined: a `#/$defs/...` reference
    would not resolve once the schema is embedded in the OpenAPI document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _detail_item(field: str, reason: str) -> dict[str, Any]:
    """FastAPI's own 422 item shape, so every 422 from this API reads the same."""
    path: list[str | int] = [int(p) if p.isdigit() else p for p in field.split(".") if p]
    return {"type": "value_error", "loc": ["body", *path], "msg": reason}


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _too_large(limit: int) -> NoReturn:
    raise HTTPException(413, f"body exceeds {limit} bytes")


__all__ = ["INGEST_PATH", "IngestBody", "IngestResponse", "create_app"]
