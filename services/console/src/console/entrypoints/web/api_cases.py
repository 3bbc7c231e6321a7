"""REST API of the operations centre: cases, triage, dispatch decisions,
verification and closing, the map and the dispatch queues. The screens call
exactly these endpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from console.domain.access import Principal
from console.entrypoints.web.deps import csrf_guard, language, principal, translator, web
from console.service_layer import cases
from console.service_layer.views import as_json, case_row
from svckit.clock import utcnow

router = APIRouter(prefix="/api", tags=["cases"], dependencies=[Depends(csrf_guard)])
Who = Annotated[Principal, Depends(principal)]
Note = Annotated[str, Field(max_length=4000)]
RequestId = Annotated[
    str, Field(max_length=128, description="Makes a retried call have one effect.")
]


class NoteBody(BaseModel):
    note: Note = ""
    request_id: RequestId = ""


class RejectBody(NoteBody):
    reason: str = Field(description="RejectReason name, e.g. REJECT_REASON_FALSE_ALARM")


class MergeBody(NoteBody):
    duplicate_of: str = Field(max_length=64, description="The open case that keeps going")


class ReclassifyBody(NoteBody):
    category_code: str = Field(max_length=16)


class UrgencyBody(NoteBody):
    urgency: str = Field(description="Urgency name, e.g. URGENCY_IMMEDIATE")


class DispatchBody(NoteBody):
    department_id: str = Field(max_length=64)
    assist_department_ids: list[str] = Field(default_factory=list, max_length=20)


class ArbitrateBody(NoteBody):
    outcome: Literal["ARBITRATION_OUTCOME_TERRITORIAL", "ARBITRATION_OUTCOME_DEPARTMENT"]
    department_id: str = Field("", max_length=64)


class ExtensionDecisionBody(NoteBody):
    approve: bool
    hours: float = Field(
        0, ge=0, le=720, description="Working hours granted; 0 grants what was asked"
    )


class BacklogBody(BaseModel):
    reason: Note
    request_id: RequestId = ""


class VerifyBody(NoteBody):
    passed: bool


class CloseBody(BaseModel):
    reason_code: str = Field("RESOLVED", max_length=32)
    request_id: RequestId = ""


@router.get("/cases", summary="Cases, filtered (intake filters by state; the rest here)")
async def list_cases(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    category: str = "",
    district: str = "",
    overdue: bool = False,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: str = "",
) -> dict[str, Any]:
    """With only `state` (or nothing), one page of intake's list; with any other
    filter, every matching case of the scan (see case_scan_limit)."""
    console = web(request).console
    if not (category or district or overdue):
        return as_json(await cases.list_page(console, who, state or [], page_size, page_token))
    found = await cases.find_cases(
        console, who, cases.CaseFilter(tuple(state or ()), category, district, overdue)
    )
    return {"cases": [as_json(c) for c in found], "total_size": str(len(found))}


@router.get("/cases/{case_id}", summary="One case")
async def get_case(request: Request, who: Who, case_id: str) -> dict[str, Any]:
    return as_json(await cases.get_case(web(request).console, who, case_id))


@router.get("/cases/{case_id}/orders", summary="The work orders of a case")
async def case_orders(request: Request, who: Who, case_id: str) -> dict[str, Any]:
    await cases.get_case(web(request).console, who, case_id)
    orders = await cases.case_orders(web(request).console, who, case_id)
    return {"work_orders": [as_json(o) for o in orders]}


@router.get("/triage", summary="Cases waiting in triage, oldest first")
async def triage_queue(request: Request, who: Who) -> dict[str, Any]:
    return {"cases": [as_json(c) for c in await cases.triage_queue(web(request).console, who)]}


@router.get("/queues/{queue}", summary="Dispatch's queues: unroutable, arbitration, extensions")
async def dispatch_queue(request: Request, who: Who, queue: str) -> dict[str, Any]:
    items = await cases.dispatch_queue(web(request).console, who, queue)
    return {"items": [as_json(i) for i in items]}


@router.get("/map/cases", summary="Open cases as GeoJSON, coloured by state and urgency")
async def map_cases(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    category: str = "",
    district: str = "",
    overdue: bool = False,
) -> dict[str, Any]:
    console = web(request).console
    found = await cases.find_cases(
        console, who, cases.CaseFilter(tuple(state or ()), category, district, overdue)
    )
    lang, _, now = language(request), translator(request), utcnow()
    features = []
    for case in found:
        row = case_row(case, lang, console.ref, _, now)
        if not case.HasField("place"):
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
                "properties": {
                    k: row[k]
                    for k in (
                        "case_id",
                        "title",
                        "state",
                        "state_label",
                        "colour",
                        "urgency",
                        "urgency_label",
                        "weight",
                        "category_name",
                        "district_name",
                        "overdue",
                    )
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@router.get("/map/city", summary="The city's districts, streets and grids (GeoJSON)")
async def map_city(request: Request, who: Who) -> Response:
    path = web(request).options.city_geojson
    body = (
        path.read_bytes()
        if path
        else json.dumps({"type": "FeatureCollection", "features": []}).encode()
    )
    return Response(body, media_type="application/geo+json")


@router.post("/cases/{case_id}/file", summary="Triage: file (立案)")
async def file_case(request: Request, who: Who, case_id: str, body: NoteBody) -> dict[str, Any]:
    return as_json(
        await cases.file_case(web(request).console, who, case_id, body.note, body.request_id)
    )


@router.post("/cases/{case_id}/reject", summary="Triage: reject (不予立案) with a coded reason")
async def reject_case(request: Request, who: Who, case_id: str, body: RejectBody) -> dict[str, Any]:
    reply = await cases.reject_case(
        web(request).console, who, case_id, body.reason, body.note, body.request_id
    )
    return as_json(reply)


@router.post("/cases/{case_id}/merge", summary="Triage: merge into the case it duplicates")
async def merge_case(request: Request, who: Who, case_id: str, body: MergeBody) -> dict[str, Any]:
    reply = await cases.merge_case(
        web(request).console, who, case_id, body.duplicate_of, body.note, body.request_id
    )
    return as_json(reply)


@router.post("/cases/{case_id}/reclassify", summary="Triage: a new 小类 (re-dispatches)")
async def reclassify_case(
    request: Request, who: Who, case_id: str, body: ReclassifyBody
) -> dict[str, Any]:
    reply = await cases.reclassify_case(
        web(request).console, who, case_id, body.category_code, body.note, body.request_id
    )
    return as_json(reply)


@router.post("/cases/{case_id}/urgency", summary="Triage: set the CAP urgency")
async def set_urgency(
    request: Request, who: Who, case_id: str, body: UrgencyBody
) -> dict[str, Any]:
    reply = await cases.set_urgency(
        web(request).console, who, case_id, body.urgency, body.note, body.request_id
    )
    return as_json(reply)


@router.post("/cases/{case_id}/dispatch", summary="Manual dispatch (人工派遣)")
async def dispatch_manually(
    request: Request, who: Who, case_id: str, body: DispatchBody
) -> dict[str, Any]:
    reply = await cases.dispatch_manually(
        web(request).console,
        who,
        case_id,
        body.department_id,
        body.assist_department_ids,
        body.note,
        body.request_id,
    )
    return as_json(reply)


@router.post(
    "/cases/{case_id}/arbitrate", summary="Arbitration (仲裁) of a case returned too often"
)
async def arbitrate(
    request: Request, who: Who, case_id: str, body: ArbitrateBody
) -> dict[str, Any]:
    reply = await cases.arbitrate(
        web(request).console,
        who,
        case_id,
        body.outcome,
        body.department_id,
        body.note,
        body.request_id,
    )
    return as_json(reply)


@router.post("/cases/{case_id}/backlog", summary="挂账: acknowledge as unsolvable for now")
async def backlog(request: Request, who: Who, case_id: str, body: BacklogBody) -> dict[str, Any]:
    reply = await cases.backlog(web(request).console, who, case_id, body.reason, body.request_id)
    return as_json(reply)


@router.post(
    "/cases/{case_id}/resume",
    summary="Out of 挂账: back to its state, deadlines later by the time in 挂账",
)
async def resume(request: Request, who: Who, case_id: str, body: NoteBody) -> dict[str, Any]:
    reply = await cases.resume(web(request).console, who, case_id, body.note, body.request_id)
    return as_json(reply)


@router.post("/extensions/{extension_id}/decision", summary="Approve or deny an extension (延期)")
async def decide_extension(
    request: Request, who: Who, extension_id: str, body: ExtensionDecisionBody
) -> dict[str, Any]:
    reply = await cases.decide_extension(
        web(request).console,
        who,
        extension_id,
        body.approve,
        body.hours,
        body.note,
        body.request_id,
    )
    return as_json(reply)


@router.post("/cases/{case_id}/verify", summary="Verification (核查): pass or send back")
async def verify_case(request: Request, who: Who, case_id: str, body: VerifyBody) -> dict[str, Any]:
    reply = await cases.verify_case(
        web(request).console, who, case_id, body.passed, body.note, body.request_id
    )
    return as_json(reply)


@router.post("/cases/{case_id}/close", summary="Close (结案) after a passed verification")
async def close_case(request: Request, who: Who, case_id: str, body: CloseBody) -> dict[str, Any]:
    reply = await cases.close_case(
        web(request).console, who, case_id, body.reason_code, body.request_id
    )
    return as_json(reply)
