"""REST API of the departments' work orders, and the escalation board."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from console.domain.access import Permission, Principal
from console.domain.board import RISK_ORDER, Risk
from console.entrypoints.web.api_cases import Note, RequestId
from console.entrypoints.web.deps import csrf_guard, language, principal, translator, web
from console.service_layer import orders
from console.service_layer.views import as_json, order_row
from svckit.clock import utcnow

router = APIRouter(prefix="/api", tags=["work orders"], dependencies=[Depends(csrf_guard)])
Who = Annotated[Principal, Depends(principal)]


class RequestBody(BaseModel):
    request_id: RequestId = ""


class ReturnBody(RequestBody):
    reason: str = Field(description="ReturnReason name, e.g. RETURN_REASON_OUTSIDE_JURISDICTION")
    note: Note = ""


class ProgressBody(RequestBody):
    note: Note = ""
    evidence_ids: list[str] = Field(default_factory=list, max_length=50)


class ExtensionBody(RequestBody):
    hours: int = Field(ge=1, le=720, description="Working hours beyond the current deadline")
    reason: Note


class CompleteBody(RequestBody):
    note: Note = ""


@router.get("/orders", summary="Work orders: a department's own, or every one for the centre")
async def list_orders(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    case_id: str = "",
) -> dict[str, Any]:
    found = await orders.list_orders(web(request).console, who, state or [], case_id)
    return {"work_orders": [as_json(o) for o in found]}


@router.get("/orders/{order_id}", summary="One work order (another department's is 404)")
async def get_order(request: Request, who: Who, order_id: str) -> dict[str, Any]:
    return as_json(await orders.get_order(web(request).console, who, order_id))


@router.post("/orders/{order_id}/accept", summary="签收: accept the order")
async def accept(request: Request, who: Who, order_id: str, body: RequestBody) -> dict[str, Any]:
    return as_json(await orders.accept(web(request).console, who, order_id, body.request_id))


@router.post("/orders/{order_id}/return", summary="退单: hand the order back with a reason")
async def return_order(
    request: Request, who: Who, order_id: str, body: ReturnBody
) -> dict[str, Any]:
    reply = await orders.return_order(
        web(request).console, who, order_id, body.reason, body.note, body.request_id
    )
    return as_json(reply)


@router.post(
    "/orders/{order_id}/progress", summary="处置中: a progress note (with uploaded evidence)"
)
async def progress(request: Request, who: Who, order_id: str, body: ProgressBody) -> dict[str, Any]:
    reply = await orders.report_progress(
        web(request).console, who, order_id, body.note, body.evidence_ids, body.request_id
    )
    return as_json(reply)


@router.post("/orders/{order_id}/extension", summary="延期申请: ask for more working hours")
async def extension(
    request: Request, who: Who, order_id: str, body: ExtensionBody
) -> dict[str, Any]:
    reply = await orders.request_extension(
        web(request).console, who, order_id, body.hours, body.reason, body.request_id
    )
    return as_json(reply)


@router.post("/orders/{order_id}/evidence", summary="Upload a photo or file for the order")
async def upload(
    request: Request,
    who: Who,
    order_id: str,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()] = "EVIDENCE_KIND_AFTER_PHOTO",
    request_id: Annotated[str, Form(max_length=128)] = "",
) -> dict[str, Any]:
    console = web(request).console
    content = await file.read(console.options.max_upload_bytes + 1)
    reply = await orders.upload_evidence(
        console,
        who,
        order_id,
        file.filename or "evidence",
        file.content_type or "",
        content,
        kind,
        request_id,
    )
    return as_json(reply)


@router.post("/orders/{order_id}/complete", summary="反馈: report the work done (uploads included)")
async def complete(request: Request, who: Who, order_id: str, body: CompleteBody) -> dict[str, Any]:
    return as_json(
        await orders.complete(web(request).console, who, order_id, body.note, body.request_id)
    )


@router.get("/orders/{order_id}/evidence/{evidence_id}", summary="An uploaded file's content")
async def evidence(request: Request, who: Who, order_id: str, evidence_id: str) -> Response:
    reply = await orders.get_evidence(web(request).console, who, order_id, evidence_id)
    media_type = reply.evidence.ref.media_type or "application/octet-stream"
    return Response(
        reply.content,
        media_type=media_type,
        headers={
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "X-Evidence-SHA256": reply.evidence.ref.sha256,
        },
    )


@router.get("/board", summary="Escalation board (督办): open orders by risk")
async def board(request: Request, who: Who) -> dict[str, Any]:
    return {"orders": await board_rows(request, who)}


async def board_rows(request: Request, who: Principal) -> list[dict[str, Any]]:
    who.require(Permission.VIEW_ALL_ORDERS)
    console = web(request).console
    lang, _, now = language(request), translator(request), utcnow()
    rows = [
        order_row(o, lang, console.ref, _, now, console.options.at_risk_seconds)
        for o in await orders.open_orders(console, who)
    ]
    rows = [r for r in rows if r["risk"] in (Risk.OVERDUE, Risk.AT_RISK)]
    rows.sort(key=lambda r: (RISK_ORDER[Risk(r["risk"])], r["remaining_seconds"] or 0))
    return rows
