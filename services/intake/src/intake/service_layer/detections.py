"""Detections in: each is discarded, fused into an open case, or opens one; a
withdrawal marks its detection and may close a triage case.

These run inside the pull worker's transaction, which records the inbox row and
commits a whole fetched batch at once; they never commit themselves.
"""

from __future__ import annotations

from datetime import datetime

from intake.adapters.case_protos import case_filed, corroborated, discarded, rejected
from intake.adapters.integration_events import detection_command, withdrawal_command
from intake.adapters.subjects import (
    CASE_CORROBORATED,
    CASE_FILED,
    CASE_REJECTED,
    DETECTION_DISCARDED,
)
from intake.domain.commands import FileFromDetection
from intake.domain.detections import (
    Accepted,
    Discard,
    assess,
    corroborate,
    reject_withdrawn,
    rescore,
    sighting_of,
    withdrawn_before_intake,
)
from intake.domain.filing import Origin, Reference, open_from_detection
from intake.domain.fusion import FusionEntry, Sighting, best_match, new_entry, widen
from intake.domain.model import CaseState
from intake.domain.policy import FusionRule
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.errors import PermanentError
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.telemetry import current_traceparent, trace_ids

log = get_logger(__name__)

CASE_ID_PREFIX = "case-"


def new_origin(traceparent: str) -> Origin:
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
    """Discard, fuse or open a case: every detection ends in exactly one case or one discard.

    The inbox stops a redelivered message; the link and discard tables also stop
    the same detection arriving in a different message (a resend with a new id).
    """
    cmd = detection_command(event)
    # No autoflush: the batch's inserts reach the database together at commit;
    # the repositories find this transaction's new rows themselves.
    with uow.session.no_autoflush:
        await _take_detection(cmd, event, uow, ref)


async def _take_detection(
    cmd: FileFromDetection, event: IncomingEvent, uow: IntakeUnitOfWork, ref: Reference
) -> None:
    if await _already_handled(cmd, uow):
        return
    now = utcnow()
    outcome = assess(cmd, ref.catalogue, ref.policy, now)
    if isinstance(outcome, Discard):
        _record_discard(outcome, uow)
        return
    rule = ref.policy.fusion(outcome.category)
    sighting = sighting_of(cmd, rule, ref.policy)
    match = await _open_case_to_join(cmd, sighting, rule, uow)
    if match is not None:
        case_id, entry = match
        await _corroborate(cmd, outcome, case_id, entry, sighting, rule, uow, now)
    else:
        await _open_case(cmd, outcome, sighting, rule, uow, ref, new_origin(event.traceparent))


async def _already_handled(cmd: FileFromDetection, uow: IntakeUnitOfWork) -> bool:
    """Linked or discarded before (a resend under a new event id): nothing to do."""
    if uow.discards.recorded_here(cmd.detection_id):
        return True
    outcome = await uow.cases.outcome(cmd.detection_id)
    if outcome is None:
        return False
    log.info("detection already handled", case_id=outcome, detection_id=cmd.detection_id)
    return True


def _record_discard(discard: Discard, uow: IntakeUnitOfWork) -> None:
    uow.discards.add(discard)
    uow.publish(discarded(discard), subject=DETECTION_DISCARDED)
    log.info(
        "detection discarded",
        detection_id=discard.detection_id,
        reason=discard.reason.value,
        note=discard.note,
    )


async def _open_case_to_join(
    cmd: FileFromDetection, sighting: Sighting, rule: FusionRule, uow: IntakeUnitOfWork
) -> tuple[str, FusionEntry | None] | None:
    """The open case this detection corroborates: the one it supersedes, else by fusion."""
    if cmd.supersedes_detection_id:
        case_id = await uow.cases.case_for_detection(cmd.supersedes_detection_id)
        entry = await uow.fusion.get(case_id) if case_id else None
        if entry is not None and entry.category_code == cmd.category_code:
            return entry.case_id, entry
    candidates = await uow.fusion.candidates(sighting, rule)
    entry = best_match(sighting, rule, candidates)
    return (entry.case_id, entry) if entry else None


async def _corroborate(
    cmd: FileFromDetection,
    accepted: Accepted,
    case_id: str,
    entry: FusionEntry | None,
    sighting: Sighting,
    rule: FusionRule,
    uow: IntakeUnitOfWork,
    now: datetime,
) -> None:
    case = await uow.cases.get(case_id, links=False)
    if case is None:  # the index and the cases share every transaction
        raise LookupError(f"fusion index names unknown case {case_id}")
    filed = corroborate(case, cmd, accepted, now)
    uow.cases.link(cmd, case_id, accepted.verdict.score, now)
    await uow.cases.update(case)
    if entry is not None:
        await uow.fusion.put(widen(entry, sighting, rule))
    uow.publish(
        corroborated(case, cmd.detection_id, cmd.source_id, now),
        subject=CASE_CORROBORATED,
        case_id=case_id,
    )
    if filed:
        whole = await uow.cases.get(case_id)
        assert whole is not None
        uow.publish(case_filed(whole), subject=CASE_FILED, case_id=case_id)
    log.debug(
        "detection corroborates case",
        case_id=case_id,
        detection_id=cmd.detection_id,
        detections=case.detection_count,
        certainty=case.certainty,
        filed_from_triage=filed,
    )


async def _open_case(
    cmd: FileFromDetection,
    accepted: Accepted,
    sighting: Sighting,
    rule: FusionRule,
    uow: IntakeUnitOfWork,
    ref: Reference,
    origin: Origin,
) -> None:
    score = accepted.verdict.score
    case = open_from_detection(cmd, accepted.category, score, accepted.opens, ref, origin)
    await uow.cases.add(case)
    uow.cases.link(cmd, case.case_id, score, origin.now)
    entry = new_entry(case.case_id, sighting, rule)
    if entry is not None:
        uow.fusion.add(entry)
    if case.state is CaseState.FILED:
        uow.publish(case_filed(case), subject=CASE_FILED, case_id=case.case_id)
    log.info(
        "case opened from detection",
        case_id=case.case_id,
        detection_id=cmd.detection_id,
        state=case.state.value,
        score=score,
    )


async def on_detection_withdrawn(event: IncomingEvent, uow: IntakeUnitOfWork) -> None:
    """Mark the detection withdrawn on its case; a triage case left with none is rejected.

    A filed case keeps going: the problem was seen and is being handled. A
    withdrawal of a detection intake has not seen yet leaves a tombstone, so
    its report, when it arrives, is recorded as discarded instead of filed.
    """
    cmd = withdrawal_command(event)
    now = utcnow()
    link = await uow.cases.find_link(cmd.detection_id, cmd.idempotency_key)
    if link is None:
        known = uow.discards.recorded_here(cmd.detection_id) or (
            await uow.discards.get(cmd.detection_id) is not None
        )
        if not cmd.detection_id or known:
            log.info("withdrawal of a detection never filed", detection_id=cmd.detection_id)
            return
        _record_discard(
            withdrawn_before_intake(cmd.detection_id, cmd.reason, now, cmd.idempotency_key), uow
        )
        return
    if link.withdrawn_at is not None:
        return
    uow.cases.withdraw(link, cmd.reason, cmd.withdrawn_at, cmd.cancelled)
    case = await uow.cases.get(link.case_id, links=False)
    if case is None:
        raise PermanentError(f"detection {link.detection_id} is linked to unknown case")
    standing = await uow.cases.standing_scores(case.case_id)
    if cmd.cancelled:
        rescore(case, standing, now)
    if cmd.cancelled and not standing and reject_withdrawn(case, now):
        await uow.fusion.forget(case.case_id)
        uow.publish(
            rejected(case, CaseState.TRIAGE, None), subject=CASE_REJECTED, case_id=case.case_id
        )
    else:
        case.updated_at = now
    await uow.cases.update(case)
    log.info(
        "detection withdrawn",
        case_id=case.case_id,
        detection_id=link.detection_id,
        cancelled=cmd.cancelled,
        state=case.state.value,
        reason=cmd.reason,
    )
