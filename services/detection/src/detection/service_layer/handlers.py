"""Commands: accept a source's message (reports, a cancellation, a cleared alarm),
once per source event, and read a detection.

Every adapter's message comes through `ingest`, so idempotency, the outbox and
tracing are the same for all of them. A message is applied in one transaction:
any refusal leaves no trace. `ingest_each` applies many independent messages (a
CloudEvents batch) in one transaction, each in a savepoint of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from opentelemetry import trace

from detection.adapters.integration_events import (
    DETECTION_WITHDRAWN,
    detection_reported,
    detection_withdrawn,
)
from detection.domain import rules
from detection.domain.commands import (
    CancelDetections,
    ClearAlarm,
    ReportDetection,
    Skipped,
    SourceMessage,
)
from detection.domain.model import Detection, DetectionStatus, WithdrawalKind
from detection.domain.problems import FieldProblem, InvalidReportError, refuse
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from svckit.logging import get_logger
from svckit.messaging.subjects import DETECTION_REPORTED

log = get_logger(__name__)
tracer = trace.get_tracer("detection")

CANCEL_INBOX = "detection:cancel"
# How far a chain of updates (A superseded by B by C...) is followed.
MAX_SUPERSEDE_HOPS = 32


@dataclass(frozen=True)
class IngestResult:
    detection_id: str
    # True: this source event was accepted before; nothing was stored or published now.
    duplicate: bool
    # False: recorded only (an exercise); intake never hears of it.
    published: bool = True
    supersedes_detection_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a message did: detections made (or found again), detections withdrawn."""

    detections: tuple[IngestResult, ...] = ()
    withdrawn: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    # Whether the message is one the rest of CityOps hears of (not an exercise).
    published: bool = True
    # The message was handled before: `withdrawn` repeats the first answer.
    repeated: bool = False

    @property
    def changed(self) -> bool:
        """Whether this call stored anything (202) rather than repeating an answer (200)."""
        if self.repeated:
            return False
        return bool(self.withdrawn) or any(not d.duplicate for d in self.detections)


async def report_detection(
    report: ReportDetection, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> IngestResult:
    """Store and announce a new detection, or return the one this source event already made."""
    outcome = await ingest(SourceMessage(reports=(report,)), uow, policy)
    return outcome.detections[0]


async def ingest(
    message: SourceMessage, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> Outcome:
    """Apply a source's message in one transaction.

    The duplicate check comes before the other rules: a retry of an accepted
    report gets the original answer even if reference data changed meanwhile.
    """
    try:
        async with uow:
            outcome = await _apply(message, uow, policy)
            await uow.commit()
    except AlreadyExistsError:
        # Another writer (another replica on PostgreSQL) stored one of these keys
        # after our check: the second pass finds it and answers it as a duplicate.
        async with uow:
            outcome = await _apply(message, uow, policy)
            await uow.commit()
    return outcome


async def ingest_each(
    messages: Sequence[SourceMessage], uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> list[Outcome | InvalidArgumentError]:
    """Apply independent messages with one commit: each answered, or refused, as
    it would be alone.

    A batch of 500 is then one commit, not 500. Each message runs in a
    savepoint, so a refused one leaves no row and no queued event and does not
    stop the others; a message repeating an earlier one of the same batch finds
    its row (same transaction) and is answered as a duplicate.
    """
    if not messages:
        return []
    try:
        async with uow:
            await uow.detections.preload(
                [
                    rules.idempotency_key(r.source_id, r.source_event_id)
                    for message in messages
                    for r in message.reports
                ]
            )
            answers = []
            for index, message in enumerate(messages):
                answers.append(await _apply_alone(index, message, uow, policy))
                await asyncio.sleep(0)  # statements run inline: let other work in between
            await uow.commit()
    except AlreadyExistsError:
        # Another writer stored one of these keys after our check, and the
        # whole batch was rolled back: one transaction per message, as `ingest`
        # does, answers that message as a duplicate.
        answers = [
            await _ingest_alone(index, message, uow, policy)
            for index, message in enumerate(messages)
        ]
    return answers


async def get_detection(detection_id: str, uow: DetectionUnitOfWork) -> Detection:
    if not detection_id.strip():
        raise InvalidArgumentError("detection_id is required")
    async with uow:
        detection = await uow.detections.get(detection_id)
    if detection is None:
        raise NotFoundError(f"no detection {detection_id!r}")
    return detection


async def accept(
    report: ReportDetection, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> IngestResult:
    """Inside an open transaction: the report's detection, stored and queued for
    publication unless this source event made one already."""
    key = rules.idempotency_key(report.source_id, report.source_event_id)
    span = trace.get_current_span()
    span.set_attribute("cityops.idempotency_key", key)
    prior = await uow.detections.find_by_key(key)
    if prior is not None:
        return _duplicate(prior, report)
    detection = rules.normalise(report, policy, detection_id=new_id(), received_at=utcnow())
    replaced = await _supersede(report, uow)
    if replaced is not None:
        detection = replace(detection, supersedes_detection_id=replaced.detection_id)
    await uow.detections.add(detection)
    if detection.published:
        uow.publish(detection_reported(detection), subject=DETECTION_REPORTED, case_id="")
    span.set_attribute("cityops.detection_id", detection.detection_id)
    log.info(
        "detection accepted",
        detection_id=detection.detection_id,
        source_id=detection.source_id,
        category_code=detection.category_code,
        grid_code=detection.place.grid_code,
        published=detection.published,
    )
    return IngestResult(
        detection.detection_id,
        duplicate=False,
        published=detection.published,
        supersedes_detection_id=detection.supersedes_detection_id,
    )


async def withdraw(
    detection: Detection, kind: WithdrawalKind, reason: str, uow: DetectionUnitOfWork
) -> Detection:
    """Inside an open transaction: mark an active detection withdrawn and, if it
    was ever published, announce the withdrawal."""
    withdrawn = rules.withdraw(detection, kind, reason, utcnow())
    await uow.detections.save(withdrawn)
    if withdrawn.published:
        uow.publish(detection_withdrawn(withdrawn), subject=DETECTION_WITHDRAWN, case_id="")
    log.info(
        "detection withdrawn",
        detection_id=withdrawn.detection_id,
        kind=kind.value,
        published=withdrawn.published,
    )
    return withdrawn


async def _apply_alone(
    index: int, message: SourceMessage, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> Outcome | InvalidArgumentError:
    with _item_span(index):
        try:
            if _only_buffers(message):
                with uow.buffered_savepoint():
                    return await _apply(message, uow, policy)
            async with uow.savepoint():
                return await _apply(message, uow, policy)
        except InvalidArgumentError as exc:
            return exc


def _only_buffers(message: SourceMessage) -> bool:
    """Whether applying the message only looks up keys and queues new
    detections and events (no update of a stored detection, no query that
    writes the queue first), so a refusal is undone in memory."""
    return (
        message.cancel is None
        and message.clear is None
        and not any(report.supersedes for report in message.reports)
    )


async def _ingest_alone(
    index: int, message: SourceMessage, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> Outcome | InvalidArgumentError:
    with _item_span(index):
        try:
            return await ingest(message, uow, policy)
        except InvalidArgumentError as exc:
            return exc


def _item_span(index: int) -> AbstractContextManager[trace.Span]:
    """A span per message of a batch, so each carries its own idempotency key
    and detection id (`accept` sets them on the current span)."""
    return tracer.start_as_current_span(
        "detection.ingest_item", attributes={"cityops.batch.index": index}
    )


async def _apply(
    message: SourceMessage, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> Outcome:
    results = [await accept(report, uow, policy) for report in message.reports]
    withdrawn: list[str] = []
    repeated = False
    if message.cancel is not None:
        cancelled, repeated = await _cancel(message.cancel, uow, policy)
        withdrawn += cancelled
    if message.clear is not None:
        withdrawn += await _clear(message.clear, uow)
    exercise = any(r.exercise for r in message.reports) or bool(
        message.cancel and message.cancel.exercise
    )
    return Outcome(
        tuple(results), tuple(withdrawn), message.skipped, published=not exercise, repeated=repeated
    )


async def _cancel(
    cmd: CancelDetections, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> tuple[list[str], bool]:
    """Withdraw what a cancel message references, and say whether it was handled
    before: the same cancel again withdraws nothing more and answers as before.

    A source cancels only its own reports (and an exercise only exercises).
    """
    key = rules.idempotency_key(cmd.source_id, cmd.source_event_id)
    inbox_id = hashlib.sha256(key.encode()).hexdigest()
    prior = await uow.seen(CANCEL_INBOX, inbox_id)
    if prior is not None:
        return list(json.loads(prior.result or b"[]")), True
    problems: list[FieldProblem] = []
    rules.parse_time(cmd.sent, utcnow(), policy.max_future_skew, problems, "sent")
    if problems:
        raise InvalidReportError(problems)
    referenced = await _current(await uow.detections.find_by_keys(cmd.references), uow)
    referenced = [
        d for d in referenced if d.source_id == cmd.source_id and d.exercise == cmd.exercise
    ]
    if not referenced:
        raise refuse("references", "no accepted report of this source matches the references")
    ids = []
    for detection in referenced:
        if detection.status is DetectionStatus.ACTIVE:
            await withdraw(detection, WithdrawalKind.CANCELLED, cmd.reason, uow)
            ids.append(detection.detection_id)
    uow.remember(CANCEL_INBOX, inbox_id, json.dumps(ids).encode())
    return ids, False


async def _clear(cmd: ClearAlarm, uow: DetectionUnitOfWork) -> list[str]:
    active = await uow.detections.active_for_alarm(cmd.source_id, cmd.device_id, cmd.source_codes)
    for detection in active:
        await withdraw(detection, WithdrawalKind.CLEARED, cmd.reason, uow)
    return [d.detection_id for d in active]


async def _supersede(report: ReportDetection, uow: DetectionUnitOfWork) -> Detection | None:
    """The detection a CAP Update replaces (the latest one still active among its
    references, following earlier updates forward), marked superseded."""
    if not report.supersedes:
        return None
    found = await _current(await uow.detections.find_by_keys(report.supersedes), uow)
    active = [
        d
        for d in found
        if d.status is DetectionStatus.ACTIVE
        and d.source_id == report.source_id
        and d.exercise == report.exercise
    ]
    for detection in active:
        await uow.detections.save(rules.supersede(detection))
    return active[-1] if active else None


async def _current(found: Sequence[Detection], uow: DetectionUnitOfWork) -> list[Detection]:
    """Each detection, or the one that superseded it (and so on), oldest first."""
    current: dict[str, Detection] = {}
    for detection in found:
        for _ in range(MAX_SUPERSEDE_HOPS):
            if detection.status is not DetectionStatus.SUPERSEDED:
                break
            successor = await uow.detections.superseded_by(detection.detection_id)
            if successor is None:
                break
            detection = successor
        current[detection.detection_id] = detection
    return sorted(current.values(), key=lambda d: (d.received_at, d.detection_id))


def _duplicate(prior: Detection, report: ReportDetection) -> IngestResult:
    trace.get_current_span().set_attribute("cityops.detection_id", prior.detection_id)
    log.info(
        "duplicate detection ignored",
        detection_id=prior.detection_id,
        idempotency_key=prior.idempotency_key,
        # A differing payload under the same key is a source bug worth spotting in logs.
        same_payload=prior.raw_payload_sha256 == report.raw_payload_sha256,
    )
    return IngestResult(
        prior.detection_id,
        duplicate=True,
        published=prior.published,
        supersedes_detection_id=prior.supersedes_detection_id,
    )
