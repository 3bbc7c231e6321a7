"""What every ingest route shares: reading a capped body, the answer's shape,
and how refusals are written.

Bodies are read by hand rather than by FastAPI's model binding because the
service needs the raw bytes (their sha256 is kept as provenance), must cap
their size while reading, and answers malformed JSON or XML with 400, not 422.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NoReturn

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from detection.domain.problems import FieldProblem
from detection.service_layer.handlers import IngestResult, Outcome


class SafeJSONResponse(JSONResponse):
    """JSON that can always be sent. A JSON body may carry a lone surrogate as an
    escape ("\\ud800"), and answers echo names the sender chose (a metric, an
    attribute): such a character cannot be encoded as UTF-8, so it is written back
    as the same JSON escape instead of failing the response."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


class DetectionOutcomeBody(BaseModel):
    detection_id: str
    # True: this source event was accepted before; nothing new was stored.
    duplicate: bool
    # False: recorded only (CAP Test/Exercise/System); never published.
    published: bool
    # The earlier detection this one replaces (CAP Update), or "".
    supersedes_detection_id: str = ""


class SkippedBody(BaseModel):
    item: str
    reason: str


class OutcomeBody(BaseModel):
    """What a source message did."""

    # Whether the message is one the rest of CityOps hears of (false for exercises).
    published: bool
    detections: list[DetectionOutcomeBody]
    # Detections withdrawn by this message (CAP Cancel, an alarm gone inactive or cleared).
    withdrawn: list[str]
    # Parts deliberately not turned into detections (below the vendor's minimum confidence).
    skipped: list[SkippedBody]


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON or XML"},
    404: {"description": "Unknown vendor"},
    413: {"description": "Body over the size limit"},
    415: {"description": "Unsupported content type"},
    422: {"description": "Refused: each problem names its field"},
}


def outcome_body(outcome: Outcome) -> OutcomeBody:
    return OutcomeBody(
        published=outcome.published,
        detections=[_detection(d) for d in outcome.detections],
        withdrawn=list(outcome.withdrawn),
        skipped=[SkippedBody(item=s.item, reason=s.reason) for s in outcome.skipped],
    )


def respond(outcome: Outcome) -> JSONResponse:
    """202 when the message changed something, 200 when it repeats an earlier answer."""
    return SafeJSONResponse(
        outcome_body(outcome).model_dump(), status_code=202 if outcome.changed else 200
    )


async def read_body(request: Request, limit: int) -> tuple[bytes, str]:
    """The body and its sha256, refused with 413 as soon as it is known to exceed
    `limit`: from Content-Length if declared, else while streaming (chunked uploads)."""
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
    raw = b"".join(chunks)
    return raw, hashlib.sha256(raw).hexdigest()


def detail_items(problems: tuple[FieldProblem, ...] | list[FieldProblem]) -> list[dict[str, Any]]:
    return [detail_item(p.field, p.reason) for p in problems]


def detail_item(field: str, reason: str) -> dict[str, Any]:
    """FastAPI's own 422 item shape, so every 422 from this API reads the same."""
    # ASCII digits only: str.isdigit() also accepts "¹", which int() refuses.
    path: list[str | int] = [
        int(p) if p.isascii() and p.isdigit() else p for p in field.split(".") if p
    ]
    return {"type": "value_error", "loc": ["body", *path], "msg": reason}


def inline_schema(model: type[BaseModel], *, by_alias: bool = True) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined: a `#/$defs/...` reference
    would not resolve once the schema is embedded in the OpenAPI document."""
    schema = model.model_json_schema(by_alias=by_alias)
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


def json_body(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    """An `openapi_extra` declaring the hand-read request body."""
    content = {m: {"schema": schema} for m in (media_types or ("application/json",))}
    return {"requestBody": {"required": True, "content": content}}


def _detection(d: IngestResult) -> DetectionOutcomeBody:
    return DetectionOutcomeBody(
        detection_id=d.detection_id,
        duplicate=d.duplicate,
        published=d.published,
        supersedes_detection_id=d.supersedes_detection_id,
    )


def _too_large(limit: int) -> NoReturn:
    raise HTTPException(413, f"body exceeds {limit} bytes")
