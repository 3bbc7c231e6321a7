"""Server-rendered pages. They show what the REST API returns and act through
it (static/app.js posts the forms as JSON with the CSRF header)."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from grpc import aio

from cityops.intake.v1 import case_pb2
from console.domain import states
from console.domain.access import Permission, Principal, Role
from console.entrypoints.web.api_orders import board_rows
from console.entrypoints.web.deps import language, principal, render, translator, web
from console.service_layer import accounts, cases, dead_letters, ledger, orders
from console.service_layer.views import (
    as_json,
    case_row,
    detection_row,
    evidence_row,
    order_row,
    timeline_row,
)
from svckit.clock import new_id, utcnow

router = APIRouter(include_in_schema=False)
Who = Annotated[Principal, Depends(principal)]
SOFT_FAILURES = (
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.NOT_FOUND,
)


async def soft(coro: Any, default: Any) -> tuple[Any, str]:
    """A secondary panel's data, or the default and why it is missing (the page
    still shows what it can)."""
    try:
        return await coro, ""
    except aio.AioRpcError as exc:
        if exc.code() not in SOFT_FAILURES:
            raise
        return default, exc.code().name


def filters_of(
    state: list[str] | None, category: str, district: str, overdue: bool
) -> cases.CaseFilter:
    return cases.CaseFilter(
        tuple(s for s in state or () if s in states.CASE_STATES), category, district, overdue
    )


def choices(request: Request) -> dict[str, Any]:
    """Options for filter and action forms, in the reader's language."""
    ref, lang, _ = web(request).console.ref, language(request), translator(request)
    return {
        "categories": [(c.code, c.name_en if lang == "en" else c.name_zh) for c in ref.catalogue],
        "districts": [
            (d.code, d.name_en if lang == "en" else d.name_zh) for d in ref.city_map.districts
        ],
        "departments": [
            (d.department_id, d.name_en if lang == "en" else d.name_zh)
            for d in ref.departments.values()
        ],
        "case_states": [(k, _(v)) for k, v in states.CASE_STATES.items()],
        "urgencies": [(k, _(states.URGENCIES[k])) for k in states.SETTABLE_URGENCIES],
        "reject_reasons": [(k, _(v)) for k, v in states.REJECT_REASONS.items()],
        "return_reasons": [(k, _(v)) for k, v in states.RETURN_REASONS.items()],
        "request_id": new_id("ui-"),
    }


@router.get("/", response_class=HTMLResponse)
async def operations_centre(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    category: str = "",
    district: str = "",
    overdue: bool = False,
) -> Response:
    if not who.can(Permission.VIEW_CASES):
        return RedirectResponse(who.home, status_code=303)
    flt = filters_of(state, category, district, overdue)
    found = await cases.find_cases(web(request).console, who, flt)
    rows = _rows(request, found)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return render(
        request,
        "centre.html",
        {
            "filters": flt,
            "queue": [r for r in rows if r["state"] in states.QUEUE_CASE_STATES][:100],
            "counts": [
                (s, translator(request)(states.CASE_STATES[s]), counts[s])
                for s in states.CASE_STATES
                if s in counts
            ],
            "total": len(rows),
            "overdue_count": sum(1 for r in rows if r["overdue"]),
            "query": request.url.query,
            **choices(request),
        },
    )


def _rows(request: Request, found: list[case_pb2.Case]) -> list[dict[str, Any]]:
    ref, lang, _, now = web(request).console.ref, language(request), translator(request), utcnow()
    return [case_row(c, lang, ref, _, now) for c in found]


@router.get("/fragments/queue", response_class=HTMLResponse)
async def queue_fragment(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    category: str = "",
    district: str = "",
    overdue: bool = False,
) -> Response:
    flt = filters_of(state or list(states.QUEUE_CASE_STATES), category, district, overdue)
    found = await cases.find_cases(web(request).console, who, flt)
    rows = [r for r in _rows(request, found) if r["state"] in states.QUEUE_CASE_STATES][:100]
    return render(request, "fragments/queue.html", {"queue": rows})


@router.get("/cases", response_class=HTMLResponse)
async def case_list(
    request: Request,
    who: Who,
    state: Annotated[list[str] | None, Query()] = None,
    page_token: str = "",
) -> Response:
    if not who.can(Permission.VIEW_CASES):
        return RedirectResponse(who.home, status_code=303)
    chosen = [s for s in state or () if s in states.CASE_STATES]
    reply = await cases.list_page(web(request).console, who, chosen, 100, page_token)
    return render(
        request,
        "cases.html",
        {
            "cases": _rows(request, list(reply.cases)),
            "total": reply.total_size,
            "next_page_token": reply.next_page_token,
            "chosen_states": chosen,
            **choices(request),
        },
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, who: Who, case_id: str) -> Response:
    console = web(request).console
    lang, _, now = language(request), translator(request), utcnow()
    case = await cases.get_case(console, who, case_id)
    row = case_row(case, lang, console.ref, _, now)
    entries: list[Any] = []
    timeline_missing = "PERMISSION_DENIED"
    if who.can(Permission.VIEW_LEDGER):
        entries, timeline_missing = await soft(ledger.timeline(console, who, case_id), [])
    found_orders, orders_missing = await soft(cases.case_orders(console, who, case_id), [])
    detections, _missing = await soft(cases.detections_of(console, who, case), [])
    dispatch = (
        await cases.dispatch_of(console, who, case_id) if who.can(Permission.VIEW_CASES) else None
    )
    return render(
        request,
        "case.html",
        {
            "case": row,
            "evidence": [evidence_row(e) for e in case.evidence],
            "detection_ids": list(case.detection_ids)[:50],
            "withdrawn": set(case.withdrawn_detection_ids),
            "detections": [detection_row(d) for d in detections],
            "timeline": [timeline_row(e, console.options.trace_url_template) for e in entries],
            "timeline_missing": timeline_missing,
            "orders": [
                order_row(o, lang, console.ref, _, now, console.options.at_risk_seconds)
                for o in found_orders
                if who.can(Permission.VIEW_ALL_ORDERS) or o.department_id == who.department_id
            ],
            "orders_missing": orders_missing,
            "dispatch": as_json(dispatch) if dispatch is not None else None,
            "trace_url": console.options.trace_url_template.format(trace_id=case.trace_id)
            if console.options.trace_url_template and case.trace_id
            else "",
            **choices(request),
        },
    )


@router.get("/board", response_class=HTMLResponse)
async def board_page(request: Request, who: Who) -> Response:
    rows = await board_rows(request, who)
    return render(request, "board.html", {"rows": rows})


@router.get("/queues", response_class=HTMLResponse)
async def queues_page(request: Request, who: Who) -> Response:
    console = web(request).console
    who.require(Permission.VIEW_CASES)
    lang, _, now = language(request), translator(request), utcnow()
    triage, triage_missing = await soft(cases.triage_queue(console, who), [])
    queues: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name in cases.QUEUES:
        items, missing[name] = await soft(cases.dispatch_queue(console, who, name), [])
        queues[name] = [as_json(i) for i in items]
    return render(
        request,
        "queues.html",
        {
            "triage": [case_row(c, lang, console.ref, _, now) for c in triage],
            "triage_missing": triage_missing,
            "queues": queues,
            "missing": missing,
            **choices(request),
        },
    )


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, who: Who, all: bool = False) -> Response:
    console = web(request).console
    lang, _, now = language(request), translator(request), utcnow()
    found = await (
        orders.list_orders(console, who, []) if all else orders.open_orders(console, who)
    )
    rows = [order_row(o, lang, console.ref, _, now, console.options.at_risk_seconds) for o in found]
    rows.sort(
        key=lambda r: (
            not r["open"],
            r["remaining_seconds"] if r["remaining_seconds"] is not None else 1 << 40,
        )
    )
    return render(request, "orders.html", {"orders": rows, "show_all": all})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, who: Who, order_id: str) -> Response:
    console = web(request).console
    lang, _, now = language(request), translator(request), utcnow()
    order = await orders.get_order(console, who, order_id)
    row = order_row(order, lang, console.ref, _, now, console.options.at_risk_seconds)
    return render(request, "order.html", {"order": row, **choices(request)})


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, who: Who, case_id: str = "") -> Response:
    who.require(Permission.VIEW_LEDGER)
    if case_id.strip():
        return RedirectResponse(f"/cases/{case_id.strip()}#ledger", status_code=303)
    recent = (
        await cases.list_page(web(request).console, who, ["CASE_STATE_CLOSED"], 20, "")
        if who.can(Permission.VIEW_CASES)
        else None
    )
    return render(
        request,
        "audit.html",
        {"recent": _rows(request, list(recent.cases)) if recent else []},
    )


@router.get("/audit/evaluation", response_class=HTMLResponse)
async def evaluation_page(request: Request, who: Who) -> Response:
    who.require(Permission.VIEW_EVALUATION)
    return render(request, "evaluation.html", {})


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, who: Who) -> Response:
    who.require(Permission.ADMIN)
    app = web(request)
    return render(
        request,
        "admin.html",
        {
            "users": await accounts.list_users(app.uow()),
            "all_departments": await accounts.list_departments(app.uow()),
            "roles": [r.value for r in Role],
            "dead_letters": await dead_letters.list_all(app.console, who),
        },
    )
