"""Open311 GeoReport v2 (JSON): the catalogue's 小类 as services, citizens'
requests as cases. Errors come back as GeoReport error lists. Open311 does not
use console sessions: clients identify with api_key (required when configured)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from console.domain import open311
from console.entrypoints.web.deps import language, translator, web
from console.service_layer import open311 as service

router = APIRouter(prefix="/open311/v2", tags=["open311"])
ANONYMOUS = "anonymous"


def _client(request: Request, api_key: str) -> str:
    """The client an api_key names; anonymous when keys are optional and none was given."""
    options = web(request).options
    for name, key in options.open311_api_keys.items():
        if api_key and hmac.compare_digest(key.encode(), api_key.encode()):
            return name
    if api_key or options.open311_require_api_key:
        raise HTTPException(403, "api_key missing or not recognised")
    return ANONYMOUS


@router.get("/services.json", summary="Services: the catalogue's 小类")
async def services(request: Request) -> list[dict[str, Any]]:
    lang = language(request)
    return [open311.service_definition(c, lang) for c in web(request).console.ref.catalogue]


@router.get("/services/{service_code}.json", summary="One service's definition")
async def service_definition(request: Request, service_code: str) -> dict[str, Any]:
    category = open311.find_service(web(request).console.ref.catalogue, service_code)
    # No extra attributes are defined for any service: lat/long and a description suffice.
    return {"service_code": category.code, "attributes": []}


@router.post(
    "/requests.json",
    summary="Submit a request (form-encoded, as GeoReport v2 specifies)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["service_code", "lat", "long"],
                        "properties": {
                            "api_key": {"type": "string"},
                            "service_code": {"type": "string"},
                            "lat": {"type": "number"},
                            "long": {"type": "number"},
                            "description": {"type": "string", "maxLength": open311.MAX_DESCRIPTION},
                            "address_string": {"type": "string"},
                            "media_url": {"type": "string"},
                            "email": {"type": "string"},
                            "first_name": {"type": "string"},
                            "last_name": {"type": "string"},
                            "phone": {"type": "string"},
                            "device_id": {"type": "string"},
                            "account_id": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def post_request(request: Request) -> JSONResponse:
    """Becomes a case filed by hand in intake; replies with its service_request_id.
    An `Idempotency-Key` header makes a retried submission file one case."""
    try:
        form = await request.form(max_files=0, max_fields=50)
    except Exception as exc:  # multipart errors, files where none are allowed
        raise HTTPException(400, f"unreadable form: {exc}") from exc
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client = _client(request, fields.get("api_key", ""))
    key = request.headers.get("idempotency-key", "")[:80]
    reply = await service.submit(web(request).console, web(request).uow, client, fields, key)
    return JSONResponse([reply], status_code=201)


@router.get("/requests.json", summary="Requests, by ids or by service, dates and status")
async def get_requests(
    request: Request,
    service_request_id: str = "",
    service_code: str = "",
    start_date: str = "",
    end_date: str = "",
    status: str = "",
) -> list[dict[str, Any]]:
    params = {
        "service_request_id": service_request_id,
        "service_code": service_code,
        "start_date": start_date,
        "end_date": end_date,
        "status": status,
    }
    return await service.get_requests(
        web(request).console, web(request).uow, params, language(request), translator(request)
    )


@router.get("/requests/{service_request_id}.json", summary="One request")
async def get_request(request: Request, service_request_id: str) -> list[dict[str, Any]]:
    return await service.get_request(
        web(request).console,
        web(request).uow,
        service_request_id,
        language(request),
        translator(request),
    )
