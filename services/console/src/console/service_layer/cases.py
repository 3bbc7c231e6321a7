"""The operations centre's use cases: find and read cases, triage them,
dispatch by hand, decide extensions and arbitrations, verify and close.

Each checks the principal's permission first, then calls the owning service
as that principal; the service checks again and records who acted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from grpc import aio

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_service_pb2 as detection_pb
from cityops.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from console.adapters.clients import call
from console.domain.access import Permission, Principal, Role
from console.domain.states import FINAL_CASE_STATES, OPEN_CASE_STATES
from console.service_layer.context import Console, caller, enum_value
from svckit.clock import new_id, utcnow
from svckit.errors import InvalidArgumentError, NotFoundError

MAX_DETECTIONS_SHOWN = 20


@dataclass(frozen=True)
class CaseFilter:
    states: tuple[str, ...] = ()
    category_code: str = ""
    district_code: str = ""
    overdue: bool = False

    def state_values(self) -> list[Any]:
        return [enum_value(case_pb2.CaseState, s, "case state") for s in self.states]

    def admits(self, case: case_pb2.Case, now: datetime) -> bool:
        if self.category_code and case.category_code != self.category_code:
            return False
        if self.district_code and case.place.district_code != self.district_code:
            return False
        if self.overdue:
            final = case_pb2.CaseState.Name(case.state) in FINAL_CASE_STATES
            return bool(
                case.deadline.seconds and not final and case.deadline.ToDatetime(tzinfo=UTC) < now
            )
        return True


def _rid(request_id: str) -> str:
    return request_id.strip() or new_id("console-")


async def scan_cases(
    console: Console, principal: Principal, states: list[Any]
) -> list[case_pb2.Case]:
    """Pages of intake's ListCases, up to the scan limit."""
    cases: list[case_pb2.Case] = []
    token = ""
    while len(cases) < console.options.case_scan_limit:
        reply = await call(
            console.clients.intake.ListCases,
            intake_pb.ListCasesRequest(states=states, page_size=500, page_token=token),
            caller(principal),
        )
        cases.extend(reply.cases)
        token = reply.next_page_token
        if not token:
            break
    return cases[: console.options.case_scan_limit]


async def find_cases(
    console: Console, principal: Principal, flt: CaseFilter
) -> list[case_pb2.Case]:
    """Cases for the centre's screens; by default every open one. Intake filters
    by state; the other filters apply here to what it returns."""
    principal.require(Permission.VIEW_CASES)
    values = flt.state_values() or [case_pb2.CaseState.Value(s) for s in OPEN_CASE_STATES]
    now = utcnow()
    return [c for c in await scan_cases(console, principal, values) if flt.admits(c, now)]


async def list_page(
    console: Console, principal: Principal, states: list[str], page_size: int, page_token: str
) -> intake_pb.ListCasesResponse:
    principal.require(Permission.VIEW_CASES)
    values: list[Any] = [enum_value(case_pb2.CaseState, s, "case state") for s in states]
    return await call(
        console.clients.intake.ListCases,
        intake_pb.ListCasesRequest(states=values, page_size=page_size, page_token=page_token),
        caller(principal),
    )


async def triage_queue(console: Console, principal: Principal) -> list[case_pb2.Case]:
    principal.require(Permission.VIEW_CASES)
    reply = await call(
        console.clients.intake.ListTriageQueue,
        intake_pb.ListTriageQueueRequest(page_size=200),
        caller(principal),
    )
    return list(reply.cases)


async def case_orders(console: Console, principal: Principal, case_id: str) -> list[Any]:
    reply = await call(
        console.clients.workorders.ListWorkOrders,
        wo_pb.ListWorkOrdersRequest(case_id=case_id, page_size=50),
        caller(principal),
    )
    return list(reply.work_orders)


async def get_case(console: Console, principal: Principal, case_id: str) -> case_pb2.Case:
    """Any case for the centre and auditors; for a department, only a case it
    holds an order for (anything else is reported absent)."""
    if not case_id:
        raise InvalidArgumentError("case_id is required")
    if not principal.can(Permission.VIEW_CASES) and (
        principal.role is not Role.DEPARTMENT_USER
        or not any(
            o.department_id == principal.department_id
            for o in await case_orders(console, principal, case_id)
        )
    ):
        raise NotFoundError(f"case {case_id} not found")
    reply = await call(
        console.clients.intake.GetCase, intake_pb.GetCaseRequest(case_id=case_id), caller(principal)
    )
    return reply.case


async def dispatch_of(console: Console, principal: Principal, case_id: str) -> Any | None:
    """Dispatch's record of the case, or None when it has none (or is unreachable)."""
    with contextlib.suppress(aio.AioRpcError):
        return await call(
            console.clients.dispatch.GetDispatch,
            dispatch_pb.GetDispatchRequest(case_id=case_id),
            caller(principal),
        )
    return None


async def detections_of(console: Console, principal: Principal, case: case_pb2.Case) -> list[Any]:
    """The first fused detections of the case, as detection recorded them; the
    screen shows ids alone for any detection service cannot return."""
    ids = list(case.detection_ids)[:MAX_DETECTIONS_SHOWN]

    async def one(detection_id: str) -> Any | None:
        try:
            reply = await call(
                console.clients.detection.GetDetection,
                detection_pb.GetDetectionRequest(detection_id=detection_id),
                caller(principal),
            )
        except aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
                raise
            return None
        return reply.detection

    found = await asyncio.gather(*(one(i) for i in ids))
    return [d for d in found if d is not None]


# --- triage (intake) ---------------------------------------------------------


async def file_case(
    console: Console, p: Principal, case_id: str, note: str, request_id: str = ""
) -> Any:
    p.require(Permission.TRIAGE)
    return await call(
        console.clients.intake.FileCase,
        intake_pb.FileCaseRequest(request_id=_rid(request_id), case_id=case_id, note=note),
        caller(p),
    )


async def reject_case(
    console: Console, p: Principal, case_id: str, reason: str, note: str, request_id: str = ""
) -> Any:
    p.require(Permission.TRIAGE)
    return await call(
        console.clients.intake.RejectCase,
        intake_pb.RejectCaseRequest(
            request_id=_rid(request_id),
            case_id=case_id,
            reason=enum_value(case_pb2.RejectReason, reason, "reject reason"),
            note=note,
        ),
        caller(p),
    )


async def merge_case(
    console: Console, p: Principal, case_id: str, duplicate_of: str, note: str, request_id: str = ""
) -> Any:
    p.require(Permission.TRIAGE)
    if not duplicate_of.strip():
        raise InvalidArgumentError("duplicate_of is required")
    return await call(
        console.clients.intake.MergeCase,
        intake_pb.MergeCaseRequest(
            request_id=_rid(request_id),
            case_id=case_id,
            duplicate_of=duplicate_of.strip(),
            note=note,
        ),
        caller(p),
    )


async def reclassify_case(
    console: Console,
    p: Principal,
    case_id: str,
    category_code: str,
    note: str,
    request_id: str = "",
) -> Any:
    p.require(Permission.TRIAGE)
    if console.ref.catalogue.find(category_code) is None:
        raise InvalidArgumentError(f"unknown category code {category_code!r}")
    return await call(
        console.clients.intake.ReclassifyCase,
        intake_pb.ReclassifyCaseRequest(
            request_id=_rid(request_id), case_id=case_id, category_code=category_code, note=note
        ),
        caller(p),
    )


async def set_urgency(
    console: Console, p: Principal, case_id: str, urgency: str, note: str, request_id: str = ""
) -> Any:
    p.require(Permission.TRIAGE)
    return await call(
        console.clients.intake.SetUrgency,
        intake_pb.SetUrgencyRequest(
            request_id=_rid(request_id),
            case_id=case_id,
            urgency=enum_value(common_pb2.Urgency, urgency, "urgency"),
            note=note,
        ),
        caller(p),
    )


# --- dispatch ----------------------------------------------------------------


async def dispatch_manually(
    console: Console,
    p: Principal,
    case_id: str,
    department_id: str,
    assists: list[str],
    note: str,
    request_id: str = "",
) -> Any:
    p.require(Permission.DISPATCH)
    if not department_id:
        raise InvalidArgumentError("department_id is required")
    return await call(
        console.clients.dispatch.DispatchManually,
        dispatch_pb.DispatchManuallyRequest(
            request_id=_rid(request_id),
            case_id=case_id,
            department_id=department_id,
            assist_department_ids=assists,
            note=note,
        ),
        caller(p),
    )


async def arbitrate(
    console: Console,
    p: Principal,
    case_id: str,
    outcome: str,
    department_id: str,
    note: str,
    request_id: str = "",
) -> Any:
    p.require(Permission.ARBITRATE)
    return await call(
        console.clients.dispatch.Arbitrate,
        dispatch_pb.ArbitrateRequest(
            request_id=_rid(request_id),
            case_id=case_id,
            outcome=enum_value(dispatch_pb.ArbitrationOutcome, outcome, "arbitration outcome"),
            department_id=department_id,
            note=note,
        ),
        caller(p),
    )


async def decide_extension(
    console: Console,
    p: Principal,
    extension_id: str,
    approve: bool,
    hours: float,
    note: str,
    request_id: str = "",
) -> Any:
    p.require(Permission.DECIDE_EXTENSION)
    if hours < 0:
        raise InvalidArgumentError("hours must not be negative")
    return await call(
        console.clients.dispatch.DecideExtension,
        dispatch_pb.DecideExtensionRequest(
            request_id=_rid(request_id),
            extension_id=extension_id,
            approve=approve,
            hours=hours,
            note=note,
        ),
        caller(p),
    )


async def backlog(
    console: Console, p: Principal, case_id: str, reason: str, request_id: str = ""
) -> Any:
    p.require(Permission.BACKLOG)
    if not reason.strip():
        raise InvalidArgumentError("a reason is required to backlog (挂账) a case")
    return await call(
        console.clients.dispatch.Backlog,
        dispatch_pb.BacklogRequest(request_id=_rid(request_id), case_id=case_id, reason=reason),
        caller(p),
    )


async def resume(
    console: Console, p: Principal, case_id: str, note: str, request_id: str = ""
) -> Any:
    """Out of 挂账: the same supervisors who backlog a case take it out again."""
    p.require(Permission.BACKLOG)
    return await call(
        console.clients.dispatch.Resume,
        dispatch_pb.ResumeRequest(request_id=_rid(request_id), case_id=case_id, note=note),
        caller(p),
    )


QUEUES = {
    "unroutable": dispatch_pb.QUEUE_UNROUTABLE,
    "arbitration": dispatch_pb.QUEUE_ARBITRATION,
    "extensions": dispatch_pb.QUEUE_EXTENSIONS,
}


async def dispatch_queue(console: Console, p: Principal, queue: str) -> list[Any]:
    p.require(Permission.VIEW_CASES)
    if queue not in QUEUES:
        raise InvalidArgumentError(f"queue must be one of {', '.join(QUEUES)}")
    reply = await call(
        console.clients.dispatch.ListQueue,
        dispatch_pb.ListQueueRequest(queue=QUEUES[queue]),
        caller(p),
    )
    return list(reply.items)


# --- verification and closing (audit) ------------------------------------------


async def verify_case(
    console: Console, p: Principal, case_id: str, passed: bool, note: str, request_id: str = ""
) -> Any:
    p.require(Permission.VERIFY)
    return await call(
        console.clients.audit.VerifyCase,
        audit_pb.VerifyCaseRequest(
            request_id=_rid(request_id), case_id=case_id, passed=passed, note=note
        ),
        caller(p),
    )


async def close_case(
    console: Console, p: Principal, case_id: str, reason_code: str, request_id: str = ""
) -> Any:
    p.require(Permission.CLOSE)
    return await call(
        console.clients.audit.CloseCase,
        audit_pb.CloseCaseRequest(
            request_id=_rid(request_id), case_id=case_id, reason_code=reason_code or "RESOLVED"
        ),
        caller(p),
    )
