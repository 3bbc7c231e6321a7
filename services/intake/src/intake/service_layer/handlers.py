"""Intake's handlers: events from other services and commands from people.

Event handlers run inside the pull worker's transaction (which records the
inbox row and commits); command handlers open and commit their own.
"""

from __future__ import annotations

from cityops.intake.v1 import intake_service_pb2
from intake.adapters.integration_events import (
    case_filed,
    case_to_proto,
    detection_command,
    progress_from,
)
from intake.domain.commands import FileByHand
from intake.domain.filing import Origin, Reference, file_by_hand, file_from_detection
from intake.domain.model import Case, CasePage, CaseQuery
from intake.domain.rules import apply_progress
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.errors import InvalidArgumentError, NotFoundError, PermanentError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED
from svckit.telemetry import current_traceparent, trace_ids

log = get_logger(__name__)

CREATE_CASE = "grpc:CreateCase"
CASE_ID_PREFIX = "case-"


def _origin(traceparent: str) -> Origin:
    """A new case's id and its discovery trace: the trace we are running in now."""
    trace_id, _ = trace_ids()
    return Origin(
        case_id=new_id(CASE_ID_PREFIX),
        now=utcnow(),
        trace_id=trace_id,
        traceparent=traceparent or current_traceparent(),
    )


async def on_detection_reported(
    event: IncomingEvent, uow: IntakeUnitOfWork, *, ref: Reference
) -> None:
    """File one case per detection (立案); a detection already linked files nothing.

    The inbox stops a redelivered message; the link table also stops the same
    detection arriving in a different message (a resend with a new event id).
    """
    cmd = detection_command(event)
    existing = await uow.cases.case_for_detection(cmd.detection_id)
    if existing is not None:
        log.info("detection already filed", case_id=existing, detection_id=cmd.detection_id)
        return
    origin = _origin(event.traceparent)
    try:
        case = file_from_detection(cmd, ref, origin)
    except InvalidArgumentError as exc:
        # No retry can make an unknown category known: dead-letter it for an operator.
        raise PermanentError(f"detection {cmd.detection_id}: {exc}") from exc
    await uow.cases.add(case, linked_at=origin.now)
    uow.publish(case_filed(case), subject=CASE_FILED, case_id=case.case_id)
    log.info("case filed from detection", case_id=case.case_id, detection_id=cmd.detection_id)


async def on_case_progress(event: IncomingEvent, uow: IntakeUnitOfWork) -> None:
    """Keep a case's state current from dispatch, work-order and audit events.

    Events intake does not track are ignored; so are events about cases intake
    does not know (they cannot be ours to track) and stale ones (see rules).
    """
    progress = progress_from(event)
    if progress is None:
        log.debug("event not tracked by intake", event_type=event.type, case_id=event.case_id)
        return
    if not progress.case_id:
        raise PermanentError(f"{event.type} {event.id} names no case")
    case = await uow.cases.get(progress.case_id)
    if case is None:
        log.warning(
            "progress for an unknown case ignored", case_id=progress.case_id, event_type=event.type
        )
        return
    before = case.state
    if not apply_progress(case, progress, utcnow()):
        log.info(
            "stale progress ignored",
            case_id=case.case_id,
            state=case.state.value,
            reported=progress.target.value,
        )
        return
    await uow.cases.update(case)
    log.info(
        "case progressed",
        case_id=case.case_id,
        from_state=before.value,
        to_state=case.state.value,
        reason=progress.reason,
    )


async def create_case(
    cmd: FileByHand, caller: Caller, uow: IntakeUnitOfWork, ref: Reference
) -> intake_service_pb2.CreateCaseResponse:
    """File a case by hand; a retried request_id returns the first answer, filing nothing."""
    async with uow:
        if cmd.request_id:
            prior = await uow.seen(CREATE_CASE, cmd.request_id)
            if prior is not None and prior.result is not None:
                return intake_service_pb2.CreateCaseResponse.FromString(prior.result)
        origin = _origin("")
        case = file_by_hand(cmd, caller.role, caller.user_id, ref, origin)
        await uow.cases.add(case, linked_at=origin.now)
        uow.publish(case_filed(case), subject=CASE_FILED, case_id=case.case_id)
        response = intake_service_pb2.CreateCaseResponse(case=case_to_proto(case))
        uow.remember(CREATE_CASE, cmd.request_id, response.SerializeToString())
        await uow.commit()
    log.info("case filed by hand", case_id=case.case_id, user=caller.user_id, role=caller.role)
    return response


async def get_case(case_id: str, uow: IntakeUnitOfWork) -> Case:
    if not case_id:
        raise InvalidArgumentError("case_id is required")
    async with uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    return case


async def list_cases(query: CaseQuery, uow: IntakeUnitOfWork) -> CasePage:
    async with uow:
        return await uow.cases.page(query)
