"""Intake's event handlers: which handler takes each event of the streams it reads.

They run inside the pull worker's transaction, which records the inbox row and
commits; they never commit themselves.
"""

from __future__ import annotations

from cityops.detection.v1 import events_pb2 as detection_events
from intake.adapters.integration_events import signal_from
from intake.domain.filing import Reference
from intake.domain.rules import apply_signal
from intake.service_layer.detections import on_detection_reported, on_detection_withdrawn
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.clock import utcnow
from svckit.errors import PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent

log = get_logger(__name__)

DETECTION_REPORTED_TYPE = detection_events.DetectionReported.DESCRIPTOR.full_name
DETECTION_WITHDRAWN_TYPE = detection_events.DetectionWithdrawn.DESCRIPTOR.full_name


async def on_detection_event(
    event: IncomingEvent, uow: IntakeUnitOfWork, *, ref: Reference
) -> None:
    """The DETECTION stream: reports and withdrawals; anything else is not intake's."""
    if event.type == DETECTION_REPORTED_TYPE:
        await on_detection_reported(event, uow, ref=ref)
    elif event.type == DETECTION_WITHDRAWN_TYPE:
        await on_detection_withdrawn(event, uow)
    else:
        log.debug("detection event not tracked by intake", event_type=event.type)


async def prepare_detections(events: list[IncomingEvent], uow: IntakeUnitOfWork) -> None:
    """Before a fetched batch of reports: what became of their detections, in
    one query (asked per detection, it was a third of intake's statements)."""
    reported = [
        e.message.detection.detection_id
        for e in events
        if isinstance(e.message, detection_events.DetectionReported)
        and e.message.detection.detection_id
    ]
    with uow.session.no_autoflush:
        await uow.cases.preload_outcomes(reported)


async def prepare_progress(events: list[IncomingEvent], uow: IntakeUnitOfWork) -> None:
    """Before a fetched batch of progress events: the cases they concern, in one query."""
    await uow.cases.preload(e.case_id for e in events)


async def on_case_progress(event: IncomingEvent, uow: IntakeUnitOfWork) -> None:
    """Keep a case's state current from dispatch, work-order and audit events.

    Events intake does not track are ignored; so are events about cases intake
    does not know (they cannot be ours to track) and stale ones (see rules).
    """
    signal = signal_from(event)
    if signal is None:
        log.debug("event not tracked by intake", event_type=event.type, case_id=event.case_id)
        return
    if not signal.case_id:
        raise PermanentError(f"{event.type} {event.id} names no case")
    case = await uow.cases.get(signal.case_id, links=False)
    if case is None:
        log.warning(
            "event for an unknown case ignored", case_id=signal.case_id, event_type=event.type
        )
        return
    before = case.state
    if not apply_signal(case, signal, utcnow()):
        log.info(
            "stale or unchanged report ignored",
            case_id=case.case_id,
            state=case.state.value,
            event_type=event.type,
        )
        return
    await uow.cases.update(case)
    if not case.is_open:
        await uow.fusion.forget(case.case_id)
    log.info(
        "case progressed",
        case_id=case.case_id,
        from_state=before.value,
        to_state=case.state.value,
        event_type=event.type,
    )
