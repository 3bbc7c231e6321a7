"""HTTP routes of the source formats: CAP, CloudEvents, video-AI vendors, drones, IoT.

Each route only translates: it reads the capped body, hands it to its source
adapter (which builds the commands) and the commands to the handlers (which
store, deduplicate and publish through the outbox). See docs/ingest.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from detection.adapters.sources import cap, cloudevents, dji, hikvision, telemetry, video_ai
from detection.adapters.sources.common import loads_json
from detection.adapters.sources.schemas import CloudEventData
from detection.domain.commands import ReportDetection, SourceMessage
from detection.domain.iot import IotConfig
from detection.domain.problems import InvalidReportError
from detection.domain.rules import IngestPolicy
from detection.domain.vendors import Layout, SourceConfig
from detection.entrypoints import http_common as common
from detection.service_layer import handlers
from detection.service_layer.telemetry import record_telemetry
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.errors import InvalidArgumentError

CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
VIDEO_LAYOUTS = (Layout.GENERIC, Layout.HIKVISION_ISAPI)


class BatchItemBody(BaseModel):
    index: int
    # The event's id when it had one.
    id: str = ""
    # What this event alone would have been answered: 202, 200, 400 or 422.
    status: int
    outcome: common.OutcomeBody | None = None
    detail: list[dict[str, Any]] | str | None = None


class BatchBody(BaseModel):
    results: list[BatchItemBody]


def sources_router(
    *,
    uow: Callable[[], DetectionUnitOfWork],
    policy: IngestPolicy,
    sources: SourceConfig,
    iot: IotConfig,
    max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(responses=common.REFUSALS)

    async def apply(message: SourceMessage) -> JSONResponse:
        return common.respond(await handlers.ingest(message, uow(), policy))

    @router.post(
        "/ingest/cap",
        status_code=202,
        response_model=common.OutcomeBody,
        summary="OASIS CAP 1.2 alert (Alert, Update, Cancel)",
        openapi_extra=common.json_body({"type": "string", "format": "binary"}, *CAP_TYPES),
    )
    async def ingest_cap(request: Request) -> JSONResponse:
        _expect(request, CAP_TYPES)
        raw, sha256 = await common.read_body(request, max_body_bytes)
        vendor = sources.vendor("cap", [Layout.CAP])
        return await apply(cap.parse(raw, vendor, sha256))

    @router.post(
        "/ingest/cloudevents",
        status_code=202,
        response_model=common.OutcomeBody | BatchBody,
        summary=f"CloudEvents 1.0 ({cloudevents.EVENT_TYPE}): structured, batch or binary",
        openapi_extra=_cloudevents_body(),
    )
    async def ingest_cloudevents(request: Request) -> JSONResponse:
        kind = cloudevents.media_type(request.headers.get("content-type"))
        raw, sha256 = await common.read_body(request, max_body_bytes)
        if kind == cloudevents.BATCH:
            return await _batch(loads_json(raw), uow, policy)
        if kind == cloudevents.STRUCTURED:
            report = cloudevents.from_structured(loads_json(raw), sha256)
        elif "ce-specversion" in request.headers:
            headers = dict(request.headers) | {"ce-datacontenttype": kind or "application/json"}
            report = cloudevents.from_binary(headers, loads_json(raw), sha256)
        else:
            raise HTTPException(
                415,
                f"send {cloudevents.STRUCTURED}, {cloudevents.BATCH}, "
                "or binary mode (ce-* headers with a JSON body)",
            )
        return await apply(SourceMessage(reports=(report,)))

    @router.post(
        "/ingest/video-ai/{vendor}",
        status_code=202,
        response_model=common.OutcomeBody,
        summary="Video-analytics alarm in the vendor's layout (generic or Hikvision ISAPI)",
        # The generic layout; a vendor-specific layout (Hikvision ISAPI) is the vendor's own.
        openapi_extra=common.json_body(common.inline_schema(video_ai.GenericAlarm)),
    )
    async def ingest_video(vendor: str, request: Request) -> JSONResponse:
        raw, sha256 = await common.read_body(request, max_body_bytes)
        found = sources.vendor(vendor, VIDEO_LAYOUTS)
        data = loads_json(raw)
        if found.layout is Layout.HIKVISION_ISAPI:
            return await apply(hikvision.parse(data, found, sources.cameras, sha256))
        return await apply(video_ai.parse_generic(data, found, sources.cameras, sha256))

    @router.post(
        "/ingest/drone",
        status_code=202,
        response_model=common.OutcomeBody,
        summary="Drone inspection result, DJI Cloud API style",
        openapi_extra=common.json_body({"type": "object"}),
    )
    async def ingest_drone(request: Request) -> JSONResponse:
        raw, sha256 = await common.read_body(request, max_body_bytes)
        vendor = sources.vendor("dji", [Layout.DJI_CLOUD])
        return await apply(dji.parse(loads_json(raw), vendor, sha256))

    @router.post(
        "/ingest/iot",
        status_code=202,
        response_model=common.OutcomeBody,
        summary="Readings of an HTTP IoT device (same rules as MQTT telemetry)",
        openapi_extra=common.json_body(common.inline_schema(telemetry.HttpTelemetryBody)),
    )
    async def ingest_iot(request: Request) -> JSONResponse:
        raw, sha256 = await common.read_body(request, max_body_bytes)
        command = telemetry.parse_http(loads_json(raw), sha256)
        return common.respond(await record_telemetry(command, uow(), policy, iot))

    return router


async def _batch(
    events: Any, uow: Callable[[], DetectionUnitOfWork], policy: IngestPolicy
) -> JSONResponse:
    """Each event accepted or refused on its own, all of them in one transaction
    (one commit for the batch). The batch itself is answered 200; each item
    carries the status it alone would have had."""
    results: list[BatchItemBody] = []
    parsed: list[tuple[BatchItemBody, SourceMessage]] = []
    for index, event in enumerate(cloudevents.batch_items(events)):
        event_id = event.get("id") if isinstance(event, dict) else None
        item = BatchItemBody(
            index=index, id=event_id if isinstance(event_id, str) else "", status=0
        )
        results.append(item)
        try:
            report: ReportDetection = cloudevents.from_structured(
                event, cloudevents.item_sha256(event)
            )
        except InvalidArgumentError as exc:
            _refused(item, exc)  # refused before the store is touched
        else:
            parsed.append((item, SourceMessage(reports=(report,))))
    answers = await handlers.ingest_each([message for _, message in parsed], uow(), policy)
    for (item, _), answer in zip(parsed, answers, strict=True):
        if isinstance(answer, InvalidArgumentError):
            _refused(item, answer)
        else:
            item.status = 202 if answer.changed else 200
            item.outcome = common.outcome_body(answer)
    return common.SafeJSONResponse(BatchBody(results=results).model_dump(), status_code=200)


def _refused(item: BatchItemBody, exc: InvalidArgumentError) -> None:
    item.status = 422
    item.detail = (
        common.detail_items(exc.problems) if isinstance(exc, InvalidReportError) else str(exc)
    )


def _expect(request: Request, media_types: tuple[str, ...]) -> None:
    given = cloudevents.media_type(request.headers.get("content-type"))
    if given and given not in media_types:
        raise HTTPException(415, f"send one of {', '.join(media_types)}")


def _cloudevents_body() -> dict[str, Any]:
    data = common.inline_schema(CloudEventData)
    event = {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            "specversion": {"type": "string", "enum": ["1.0"]},
            "id": {"type": "string"},
            "source": {"type": "string"},
            "type": {"type": "string", "enum": [cloudevents.EVENT_TYPE]},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string"},
            "data": data,
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                cloudevents.STRUCTURED: {"schema": event},
                cloudevents.BATCH: {"schema": {"type": "array", "items": event}},
                "application/json": {"schema": data},
            },
        }
    }
