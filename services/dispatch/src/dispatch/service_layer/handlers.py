"""Dispatch use cases: route filed cases, answer who-would-receive and get-dispatch."""

from __future__ import annotations

from cityops.common.v1 import common_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from dispatch.adapters import integration_events
from dispatch.domain import commands
from dispatch.domain.dispatching import decide
from dispatch.domain.model import DispatchRecord, Outcome, RoutingAnswer
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.errors import InvalidArgumentError, NotFoundError, PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_DISPATCHED, CASE_UNROUTABLE

log = get_logger(__name__)


async def on_case_filed(
    event: IncomingEvent, uow: DispatchUnitOfWork, *, reference: ReferenceData
) -> None:
    """立案 → 派遣: record one decision per case and publish it (the worker commits).

    The inbox already skips a redelivered message id; the per-case check here
    also covers the same case filed under another message id, so a case is
    dispatched at most once whatever the delivery history.
    """
    message = event.message
    if not isinstance(message, intake_events.CaseFiled) or not message.case.case_id:
        raise PermanentError(f"expected a CaseFiled with a case_id, got {event.type}")
    case = message.case
    prior = await uow.decisions.for_case(case.case_id)
    if prior is not None:
        log.info("case already decided; ignoring", case_id=case.case_id, outcome=prior.outcome)
        return
    record = decide(
        reference.matrix,
        dispatch_id=new_id(),
        case_id=case.case_id,
        category_code=case.category_code,
        district_code=_district_of(case.place, reference),
        now=utcnow(),
        origin_traceparent=event.traceparent,
    )
    uow.decisions.add(record)
    if record.outcome is Outcome.DISPATCHED:
        uow.publish(
            integration_events.case_dispatched(record, case),
            subject=CASE_DISPATCHED,
            case_id=case.case_id,
        )
        log.info(
            "case dispatched",
            case_id=case.case_id,
            department_id=record.department_id,
            rule_id=record.rule_id,
            deadline=record.deadline.isoformat() if record.deadline else None,
        )
    else:
        uow.publish(
            integration_events.case_unroutable(record),
            subject=CASE_UNROUTABLE,
            case_id=case.case_id,
        )
        log.warning("case unroutable", case_id=case.case_id, reason=record.reason)


def _district_of(place: common_pb2.Place, reference: ReferenceData) -> str:
    """The place's district as filed, else located from its point (intake may omit it)."""
    if place.district_code or not place.HasField("point"):
        return place.district_code
    try:
        location = reference.city_map.locate(place.point.latitude, place.point.longitude)
    except ValueError:
        return ""
    return location.district_code if location else ""


def who_would_receive(query: commands.WhoWouldReceive, reference: ReferenceData) -> RoutingAnswer:
    """The department a case of this category at this point would go to at ``query.at``.

    A wrong question (unknown category, point outside the city) is
    ``InvalidArgumentError``; a right question no rule answers is ``NotFoundError``.
    """
    if query.category_code not in reference.catalogue:
        raise InvalidArgumentError(f"unknown category code {query.category_code!r}")
    try:
        location = reference.city_map.locate(query.latitude, query.longitude)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from exc
    if location is None:
        raise InvalidArgumentError(
            f"point ({query.latitude}, {query.longitude}) is outside {reference.city_map.name_en}"
        )
    at = query.at or utcnow()
    decision = reference.matrix.route(query.category_code, location.district_code, at)
    if decision is None:
        raise NotFoundError(
            f"no responsibility rule covers {query.category_code} in {location.district_code} "
            f"on {reference.matrix.local_date(at)}"
        )
    return RoutingAnswer(district_code=location.district_code, decision=decision)


async def get_dispatch(query: commands.GetDispatch, uow: DispatchUnitOfWork) -> DispatchRecord:
    """The case's dispatch; ``NotFoundError`` if it has none (not seen, or unroutable)."""
    if not query.case_id:
        raise InvalidArgumentError("case_id is required")
    async with uow:
        record = await uow.decisions.for_case(query.case_id)
    if record is None:
        raise NotFoundError(f"no dispatch for case {query.case_id!r}")
    if record.outcome is Outcome.UNROUTABLE:
        raise NotFoundError(f"case {query.case_id!r} was not dispatched: {record.reason}")
    return record
