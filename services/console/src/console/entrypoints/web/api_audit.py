"""REST API for auditors: timelines, proof checks, the ledger's verification,
evaluations (考核评价) with export, and case dossiers. All reads."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from console.domain.access import Principal
from console.entrypoints.web.deps import principal, web
from console.service_layer import ledger
from console.service_layer.views import CITY_TIME, as_json

router = APIRouter(prefix="/api", tags=["audit"])
Who = Annotated[Principal, Depends(principal)]
GroupBy = Literal["department", "district"]


def period(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """City-local days, `end` inclusive; by default the last 30 days."""
    last = end or datetime.now(CITY_TIME).date()
    first = start or last - timedelta(days=29)
    return (
        datetime.combine(first, time(), CITY_TIME),
        datetime.combine(last + timedelta(days=1), time(), CITY_TIME),
    )


@router.get("/cases/{case_id}/timeline", summary="A case's ledger entries")
async def timeline(request: Request, who: Who, case_id: str) -> dict[str, Any]:
    entries = await ledger.timeline(web(request).console, who, case_id)
    return {"entries": [as_json(e) for e in entries]}


@router.get("/cases/{case_id}/proof", summary="Check every entry of a case against the signed log")
async def case_proof(request: Request, who: Who, case_id: str) -> dict[str, Any]:
    checks = await ledger.check_case(web(request).console, who, case_id)
    return {
        "ok": bool(checks) and all(c.ok for c in checks),
        "entries": [asdict(c) | {"ok": c.ok} for c in checks],
    }


@router.get("/ledger/entries/{sequence}/proof", summary="Check one entry's inclusion proof")
async def entry_proof(request: Request, who: Who, sequence: int) -> dict[str, Any]:
    check = await ledger.check_entry(web(request).console, who, sequence)
    return asdict(check) | {"ok": check.ok}


@router.get("/ledger/verify", summary="Ask audit to recompute the whole ledger")
async def verify_ledger(request: Request, who: Who) -> dict[str, Any]:
    return as_json(await ledger.verify_ledger(web(request).console, who))


@router.get("/evaluation", summary="考核评价 for a period (city-local days, end inclusive)")
async def evaluation(
    request: Request,
    who: Who,
    start: date | None = None,
    end: date | None = None,
    group_by: GroupBy = "department",
) -> dict[str, Any]:
    first, last = period(start, end)
    return as_json(await ledger.evaluate(web(request).console, who, first, last, group_by))


@router.get("/evaluation/export", summary="The evaluation as CSV or XLSX")
async def evaluation_export(
    request: Request,
    who: Who,
    start: date | None = None,
    end: date | None = None,
    group_by: GroupBy = "department",
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    first, last = period(start, end)
    reply = await ledger.export_evaluation(web(request).console, who, first, last, group_by, format)
    return Response(
        reply.content,
        media_type=reply.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{reply.filename or "evaluation." + format}"'
        },
    )


@router.get("/cases/{case_id}/dossier", summary="A printable case dossier (HTML) or its JSON")
async def dossier(
    request: Request,
    who: Who,
    case_id: str,
    format: Annotated[Literal["html", "json"], Query()] = "html",
) -> Response:
    reply = await ledger.dossier(web(request).console, who, case_id, format)
    disposition = "inline" if format == "html" else "attachment"
    return Response(
        reply.content,
        media_type=reply.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'{disposition}; filename="{reply.filename or case_id}"',
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        },
    )
