"""派遣: routing filed and reclassified cases, manual dispatch, and the routing questions.

Shared by every path that makes departments responsible (first dispatch,
manual dispatch, re-dispatch after a return, arbitration, reclassification):
``open_assignments`` records the assignments with their teams and deadlines
and schedules their 督办 timers, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from dispatch.adapters import integration_events as ie
from dispatch.adapters.messages import assignment_message
from dispatch.domain import commands
from dispatch.domain.areas import Place
from dispatch.domain.dispatching import Unroutable, assignments_for, manual_decision, route_case
from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import (
    Assignment,
    AssignmentStatus,
    CaseFile,
    CaseState,
    Decision,
    Role,
    RoutingAnswer,
)
from dispatch.domain.permissions import DISPATCHERS, require_request_id, require_role
from dispatch.domain.stages import Stage, lookup
from dispatch.domain.teams import Strategy
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.timers import schedule_stage
from dispatch.service_layer.tracing import action_span
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.clock import new_id
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_REDISPATCHED, CASE_UNROUTABLE
from svckit.reference import CityMap

log = get_logger(__name__)


async def open_case(
    uow: DispatchUnitOfWork, ctx: DispatchContext, case: CaseFile, now: datetime
) -> None:
    """Route a case that has no assignment: dispatch it, or queue it for manual dispatch."""
    matrix = await ctx.catalogue.matrix(uow)
    outcome = route_case(matrix, case, now)
    if isinstance(outcome, Unroutable):
        await _queue_for_manual(uow, ctx, case, outcome.reason, now)
        return
    for assignment in await open_assignments(uow, ctx, case, outcome, now=now):
        uow.publish(
            ie.case_dispatched(case, assignment), subject=CASE_DISPATCHED, case_id=case.case_id
        )
    log.info(
        "case dispatched",
        case_id=case.case_id,
        department_id=outcome.department_id,
        assists=list(outcome.assist_ids),
        rule_id=outcome.rule_id,
        rule_version=outcome.rule_version,
    )


async def open_assignments(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    case: CaseFile,
    decision: Decision,
    *,
    now: datetime,
    lead_only: bool = False,
    skip: Sequence[str] = (),
) -> list[Assignment]:
    """Record the decision's assignments (teams picked, deadlines set) and their timers.

    ``skip`` names assisting departments that already hold an active share.
    """
    decision = replace(decision, assist_ids=tuple(a for a in decision.assist_ids if a not in skip))
    departments = [decision.department_id, *([] if lead_only else decision.assist_ids)]
    teams = {d: await team_for(uow, ctx, d) for d in departments}
    assignments = assignments_for(
        case,
        decision,
        now=now,
        calendars=ctx.reference.calendars,
        directory=ctx.reference.directory,
        new_id=new_id,
        teams={d: t for d, t in teams.items() if t},
        lead_only=lead_only,
    )
    for assignment in assignments:
        uow.assignments.add(assignment)
        await schedule_stage(
            uow,
            ctx,
            case_id=case.case_id,
            dispatch_id=assignment.dispatch_id,
            department_id=assignment.department_id,
            stage=Stage.DISPOSAL,
            started_at=now,
            deadline=assignment.deadline,
        )
    await uow.cases.save(case)
    return assignments


async def team_for(uow: DispatchUnitOfWork, ctx: DispatchContext, department_id: str) -> str:
    """The team a new share of the department goes to ("" when it has no teams)."""
    teams = ctx.reference.teams.get(department_id)
    if teams is None:
        return ""
    # Each strategy reads one measure; the other would be a query for nothing.
    if teams.strategy is Strategy.LEAST_LOADED:
        return teams.pick(last_team_id=None, loads=await uow.assignments.team_loads(department_id))
    return teams.pick(last_team_id=await uow.assignments.last_team(department_id), loads={})


async def _queue_for_manual(
    uow: DispatchUnitOfWork, ctx: DispatchContext, case: CaseFile, reason: str, now: datetime
) -> None:
    """Unroutable: publish why, and start the 派遣 clock an operator must beat."""
    case.state, case.reason, case.updated_at = CaseState.UNROUTABLE, reason, now
    await uow.cases.save(case)
    uow.publish(ie.case_unroutable(case), subject=CASE_UNROUTABLE, case_id=case.case_id)
    allowed = lookup(ctx.reference.context.deadlines, Stage.DISPATCH, case.urgency)
    if allowed is not None:
        await schedule_stage(
            uow,
            ctx,
            case_id=case.case_id,
            dispatch_id="",
            department_id="",
            stage=Stage.DISPATCH,
            started_at=now,
            deadline=ctx.calendar().add(now, allowed),
        )
    log.warning("case unroutable", case_id=case.case_id, reason=reason)


def locate(place: Place, city_map: CityMap) -> Place:
    """Fill in the district, street and grid from the point where the filed place lacks them."""
    if place.point is None or (place.district_code and place.street_code and place.grid_code):
        return place
    try:
        found = city_map.locate(*place.point)
    except ValueError:
        return place
    if found is None or (place.district_code and place.district_code != found.district_code):
        return place
    return Place(found.district_code, found.street_code, found.grid_code, place.point)


async def reclassify(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    case: CaseFile,
    new_category: str,
    now: datetime,
) -> None:
    """A new 小类: route again; a different lead takes over, new assisting departments join.

    An assisting department of the old category keeps its share until it
    completes or returns it (no event withdraws a work order).
    """
    old, case.category_code, case.updated_at = case.category_code, new_category, now
    if case.state is CaseState.UNROUTABLE:
        await uow.timers.cancel(case_id=case.case_id, stage=Stage.DISPATCH)
        await open_case(uow, ctx, case, now)
        return
    if case.state is not CaseState.DISPATCHED:
        await uow.cases.save(case)
        log.info("reclassified case not re-routed", case_id=case.case_id, state=case.state.value)
        return
    active = [a for a in await uow.assignments.for_case(case.case_id) if a.active]
    lead = next((a for a in active if a.role is Role.LEAD), None)
    outcome = route_case(await ctx.catalogue.matrix(uow), case, now)
    if isinstance(outcome, Unroutable) or lead is None:
        await uow.cases.save(case)
        log.warning("reclassified case keeps its departments", case_id=case.case_id, old=old)
        return
    if outcome.department_id == lead.department_id:
        await uow.cases.save(case)
        log.info("reclassified case stays with its lead", case_id=case.case_id, old=old)
        return
    lead.end(AssignmentStatus.SUPERSEDED, now, f"reclassified {old} → {new_category}")
    await uow.assignments.save(lead)
    await uow.timers.cancel(case_id=case.case_id, dispatch_id=lead.dispatch_id)
    keep = [a.department_id for a in active if a.role is Role.ASSIST]
    reason = f"reclassified from {old} to {new_category}"
    for assignment in await open_assignments(uow, ctx, case, outcome, now=now, skip=keep):
        previous = lead if assignment.role is Role.LEAD else None
        event = ie.case_redispatched(case, assignment, previous, reason)
        uow.publish(event, subject=CASE_REDISPATCHED, case_id=case.case_id)
    log.info("case re-dispatched after reclassification", case_id=case.case_id, old=old)


async def dispatch_manually(
    cmd: commands.DispatchManually,
    caller: Caller,
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
) -> pb.DispatchManuallyResponse:
    """An operator sends an unroutable case to a department (and assisting ones)."""
    require_request_id(cmd.request_id)
    require_role(caller.role, DISPATCHERS, "manual dispatch")
    async with uow:
        prior = await uow.seen("grpc:DispatchManually", cmd.request_id)
        if prior is not None:
            return pb.DispatchManuallyResponse.FromString(prior.result or b"")
        case = await _case(uow, cmd.case_id)
        with action_span("dispatch.manual", case.case_id, case.origin_traceparent):
            if case.state is not CaseState.UNROUTABLE:
                raise FailedPreconditionError(
                    f"case {case.case_id} is {case.state.value}; only unroutable cases are "
                    "dispatched by hand"
                )
            matrix = await ctx.catalogue.matrix(uow)
            decision = manual_decision(
                matrix, case, cmd.department_id, cmd.assist_department_ids, rule_id="manual"
            )
            now = ctx.clock.now()
            await uow.timers.cancel(case_id=case.case_id, stage=Stage.DISPATCH)
            assignments = await open_assignments(uow, ctx, case, decision, now=now)
            for assignment in assignments:
                event = ie.case_dispatched(case, assignment)
                uow.publish(event, subject=CASE_DISPATCHED, case_id=case.case_id)
            response = pb.DispatchManuallyResponse(
                assignments=[assignment_message(a) for a in assignments]
            )
            uow.remember("grpc:DispatchManually", cmd.request_id, response.SerializeToString())
            await uow.commit()
    log.info(
        "case dispatched by hand",
        case_id=case.case_id,
        department_id=cmd.department_id,
        user_id=caller.user_id,
    )
    return response


async def _case(uow: DispatchUnitOfWork, case_id: str) -> CaseFile:
    if not case_id:
        raise InvalidArgumentError("case_id is required")
    case = await uow.cases.get(case_id, for_update=True)
    if case is None:
        raise NotFoundError(f"dispatch has no case {case_id!r}")
    return case


def answer(
    query: commands.WhoWouldReceive,
    matrix: ResponsibilityMatrix,
    city_map: CityMap,
    now: datetime,
) -> RoutingAnswer:
    """Who a case of this category at this point would go to at ``query.at`` (default now).

    A wrong question (unknown category, point outside the city) is
    ``InvalidArgumentError``; a right question no rule answers is ``NotFoundError``.
    """
    if query.category_code not in matrix.catalogue:
        raise InvalidArgumentError(f"unknown category code {query.category_code!r}")
    try:
        location = city_map.locate(query.latitude, query.longitude)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from exc
    if location is None:
        raise InvalidArgumentError(
            f"point ({query.latitude}, {query.longitude}) is outside {city_map.name_en}"
        )
    place = Place(
        location.district_code,
        location.street_code,
        location.grid_code,
        (query.latitude, query.longitude),
    )
    at = query.at or now
    decision = matrix.route(query.category_code, place, at, query.urgency)
    if decision is None:
        raise NotFoundError(
            f"no responsibility rule covers {query.category_code} in {location.district_code} "
            f"on {matrix.local_date(at)}"
        )
    return RoutingAnswer(place=place, decision=decision)


async def who_would_receive(
    query: commands.WhoWouldReceive, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> RoutingAnswer:
    """``answer`` from the managed catalogue (every version, so past dates get their rule)."""
    async with uow:
        matrix = await ctx.catalogue.matrix(uow)
    return answer(query, matrix, ctx.reference.city_map, ctx.clock.now())


async def get_dispatch(
    query: commands.GetDispatch, uow: DispatchUnitOfWork
) -> tuple[CaseFile, list[Assignment]]:
    """The case and its assignments; ``NotFoundError`` if it was never dispatched."""
    if not query.case_id:
        raise InvalidArgumentError("case_id is required")
    async with uow:
        case = await uow.cases.get(query.case_id)
        assignments = await uow.assignments.for_case(query.case_id) if case else []
    if case is None:
        raise NotFoundError(f"no dispatch for case {query.case_id!r}")
    if not any(a.role is Role.LEAD for a in assignments):
        raise NotFoundError(f"case {query.case_id!r} was not dispatched: {case.reason}")
    return case, assignments
