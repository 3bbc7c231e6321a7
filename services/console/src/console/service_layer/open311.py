"""Open311 GeoReport v2 onto intake: a citizen's request becomes a case filed
by hand (as the Open311 client, role system); the case's state answers the
status questions. What a case has no field for is kept in the console's store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, timedelta
from typing import Any

import grpc
from grpc import aio

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from console.adapters.clients import call
from console.domain import open311
from console.domain.states import FINAL_CASE_STATES, case_state_label
from console.service_layer.context import Console
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from console.service_layer.views import CITY_TIME, Reference
from svckit.clock import new_id, utcnow
from svckit.errors import InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller

DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000


def open311_caller(client: str) -> Caller:
    """An Open311 client acts as itself (per API key), never as a console user."""
    return Caller(user_id=f"open311:{client}", role="system")


async def submit(
    console: Console,
    uow: Callable[[], ConsoleUnitOfWork],
    client: str,
    form: Mapping[str, str],
    idempotency_key: str = "",
) -> dict[str, Any]:
    sub = open311.parse_submission(form, console.ref.catalogue)
    if console.ref.city_map.locate(sub.latitude, sub.longitude) is None:
        raise InvalidArgumentError("lat/long is outside the city's area")
    category = console.ref.catalogue.get(sub.service_code)
    request_id = f"open311:{client}:{idempotency_key}" if idempotency_key else ""
    reply = await call(
        console.clients.intake.CreateCase,
        intake_pb.CreateCaseRequest(
            request_id=request_id[:128] or new_id("open311-"),
            category_code=sub.service_code,
            title=sub.title or category.name_zh,
            point=common_pb2.GeoPoint(latitude=sub.latitude, longitude=sub.longitude),
            urgency=common_pb2.URGENCY_UNKNOWN,
        ),
        open311_caller(client),
    )
    case_id = reply.case.case_id
    async with uow() as u:
        await u.open311.record(case_id, client, sub, utcnow())
        await u.commit()
    return {"service_request_id": case_id, "service_notice": "", "account_id": ""}


def _iso(ts: Any) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone(CITY_TIME).isoformat(timespec="seconds")


def request_view(
    case: case_pb2.Case,
    extra: open311.Extra | None,
    ref: Reference,
    lang: str,
    _: Callable[[str], str],
) -> dict[str, Any]:
    state = case_pb2.CaseState.Name(case.state)
    place = [ref.area_name(c, lang) for c in (case.place.district_code, case.place.street_code)]
    return {
        "service_request_id": case.case_id,
        "status": open311.status_of(state),
        "status_notes": _(case_state_label(state)),
        "service_name": ref.category_name(case.category_code, lang),
        "service_code": case.category_code,
        "description": extra.description if extra and extra.description else case.title,
        "agency_responsible": ref.department_name(case.lead_department_id, lang),
        "service_notice": "",
        "requested_datetime": _iso(case.filed_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.deadline) if state not in FINAL_CASE_STATES else "",
        "address": (
            extra.address_string
            if extra and extra.address_string
            else " ".join(p for p in place if p)
        ),
        "address_id": case.place.grid_code,
        "zipcode": "",
        "lat": case.place.point.latitude,
        "long": case.place.point.longitude,
        "media_url": extra.media_url if extra else "",
    }


async def get_requests(
    console: Console,
    uow: Callable[[], ConsoleUnitOfWork],
    params: Mapping[str, str],
    lang: str,
    _: Callable[[str], str],
) -> list[dict[str, Any]]:
    """GET requests.json: by ids, or by service code, dates and status (default:
    the last 90 days, at most 1000, newest first)."""
    reader = open311_caller("reader")
    ids = open311.parse_ids(params.get("service_request_id", ""))
    if ids:
        cases = [c for c in [await _case_or_none(console, reader, i) for i in ids] if c is not None]
    else:
        include_open, include_closed = open311.states_for_status(params.get("status", ""))
        end = open311.parse_date(params.get("end_date", ""), "end_date") or utcnow()
        start = (
            open311.parse_date(params.get("start_date", ""), "start_date") or end - DEFAULT_WINDOW
        )
        code = params.get("service_code", "").strip()
        if code:
            open311.find_service(console.ref.catalogue, code)
        states = [
            v
            for name, v in case_pb2.CaseState.items()
            if v
            and name != "CASE_STATE_TRIAGE"
            and (
                (name in FINAL_CASE_STATES and include_closed)
                or (name not in FINAL_CASE_STATES and include_open)
            )
        ]
        cases = []
        token = ""
        while True:
            reply = await call(
                console.clients.intake.ListCases,
                intake_pb.ListCasesRequest(states=states, page_size=500, page_token=token),
                reader,
            )
            for case in reply.cases:
                filed = case.filed_at.ToDatetime(tzinfo=UTC)
                if start <= filed <= end and (not code or case.category_code == code):
                    cases.append(case)
            token = reply.next_page_token
            if not token or len(cases) >= console.options.case_scan_limit:
                break
        cases.sort(key=lambda c: (c.filed_at.seconds, c.filed_at.nanos), reverse=True)
        cases = cases[:MAX_RESULTS]
    async with uow() as u:
        extras = await u.open311.get_many([c.case_id for c in cases])
    return [request_view(c, extras.get(c.case_id), console.ref, lang, _) for c in cases]


async def get_request(
    console: Console,
    uow: Callable[[], ConsoleUnitOfWork],
    case_id: str,
    lang: str,
    _: Callable[[str], str],
) -> list[dict[str, Any]]:
    case = await _case_or_none(console, open311_caller("reader"), case_id)
    if case is None:
        raise NotFoundError(f"service request {case_id} not found")
    async with uow() as u:
        extras = await u.open311.get_many([case.case_id])
    return [request_view(case, extras.get(case.case_id), console.ref, lang, _)]


async def _case_or_none(console: Console, reader: Caller, case_id: str) -> case_pb2.Case | None:
    try:
        reply = await call(
            console.clients.intake.GetCase, intake_pb.GetCaseRequest(case_id=case_id), reader
        )
    except aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return None
        raise
    # Triage cases are not yet accepted as requests (they may be rejected as false alarms).
    return None if reply.case.state == case_pb2.CASE_STATE_TRIAGE else reply.case
