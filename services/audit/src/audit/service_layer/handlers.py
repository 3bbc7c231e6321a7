"""Audit's use cases: record every event in the ledger, read and verify it,
verify (核查) and close (结案) cases.

Event handlers run inside the pull worker's transaction and never commit;
command handlers open their own unit of work and commit once.
"""

from __future__ import annotations

from dataclasses import replace

from opentelemetry import trace

from audit.adapters.integration_events import (
    closed_event,
    detections_named,
    verification_event,
)
from audit.domain import ledger, rules
from audit.domain.commands import CloseCase, VerifyCase
from audit.domain.model import EventFacts, LedgerEntry
from audit.service_layer.access import party, require
from audit.service_layer.context import AuditContext
from audit.service_layer.machine import consider_look
from audit.service_layer.tree_heads import sign_head
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2 as api
from svckit.clock import new_id, utcnow
from svckit.errors import NotFoundError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_CLOSED, CASE_REWORK, CASE_VERIFIED
from svckit.telemetry import links_to, trace_ids

log = get_logger(__name__)
tracer = trace.get_tracer("audit")

VERIFY_KEY = "grpc:VerifyCase"
CLOSE_KEY = "grpc:CloseCase"


async def prepare_batch(events: list[IncomingEvent], uow: AuditUnitOfWork) -> None:
    """Before a fetched batch is recorded: which of its events the ledger has,
    and the cases they concern, in a few `IN` queries (the per-event reads
    were most of audit's work under load; docs/performance.md)."""
    await uow.ledger.preload(e.id for e in events)
    await uow.cases.preload(e.case_id for e in events)
    named = [detections_named(e.message) for e in events]
    await uow.detections.preload(looked for looked, _ in named)
    await uow.ledger.preload_links(d for _, linked in named for d in linked)


async def record_event(
    event: IncomingEvent, uow: AuditUnitOfWork, ctx: AuditContext, body: bytes | None = None
) -> None:
    """Append one entry for the event (once, whatever the redeliveries), sign
    a tree head when one is due, and update the case it concerns. Runs in
    the consumer span, whose ids the entry records so an auditor can open
    the trace of this step."""
    facts = ctx.translator.facts(event, body)
    if await uow.ledger.has_event(facts.event_id):
        log.info("event already in the ledger", case_id=facts.case_id, event_id=facts.event_id)
        return
    tip = await uow.ledger.tip()
    trace_id, span_id = trace_ids()
    entry, nodes = ledger.append(
        tip, facts, recorded_at=utcnow(), trace_id=trace_id, span_id=span_id
    )
    uow.ledger.append(entry, nodes, tip)
    if ctx.tree_heads.due_by_count(tip.size, tip.signed_size):
        sign_head(uow, tip, ctx.signer)
    if facts.filed_detection_ids and facts.case_id:
        await uow.ledger.link_detections(facts.case_id, facts.filed_detection_ids)
    if facts.case_id:
        await _track_case(facts, uow)
    if facts.look is not None:
        await consider_look(facts.look, uow, ctx.verification_policy)
    log.info(
        "ledger entry appended",
        case_id=facts.case_id,
        sequence=entry.sequence,
        event_type=facts.event_type,
    )


async def _track_case(facts: EventFacts, uow: AuditUnitOfWork) -> None:
    case, new = await uow.cases.get_or_new(facts.case_id, disposers=facts.completes_work)
    # A copy to compare with: every field but the disposers list is immutable
    # (deepcopy was a tenth of recording an event).
    before = replace(case, disposers=list(case.disposers))
    rules.note_event(case, facts.traceparent, files_case=facts.files_case)
    if not rules.apply_event(case, facts):
        log.warning(
            "completion after verification; status unchanged",
            case_id=case.case_id,
            status=case.status.value,
        )
    if new or case != before:
        await uow.cases.save(case)


async def get_timeline(case_id: str, caller: Caller, uow: AuditUnitOfWork) -> list[LedgerEntry]:
    """The case's history in ledger order, with the detections it was filed from."""
    require(caller, rules.READER_ROLES, "read the ledger")
    case_id = rules.require_text(case_id, "case_id")
    async with uow.snapshot() as view:
        entries = await view.ledger.timeline(case_id)
    if not entries:
        raise NotFoundError(f"no ledger entries for case {case_id}")
    return entries


async def verify_case(
    cmd: VerifyCase, caller: Caller, uow: AuditUnitOfWork
) -> api.VerifyCaseResponse:
    """核查: passed → CaseVerified; failed → CaseRework. Idempotent by request_id."""
    verifier = party(caller)
    rules.require_role(verifier, rules.VERIFIER_ROLES, "verify a case")
    request_id = rules.require_text(cmd.request_id, "request_id")
    case_id = rules.require_text(cmd.case_id, "case_id")
    async with uow:
        prior = await uow.seen(VERIFY_KEY, request_id)
        if prior is not None:
            return api.VerifyCaseResponse.FromString(prior.result or b"")
        case = await uow.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} is unknown to audit")
        with tracer.start_as_current_span(
            "audit.verify",
            links=links_to(case.origin_traceparent),
            attributes={"cityops.case_id": case_id, "cityops.verification.passed": cmd.passed},
        ):
            verification = rules.verify(
                case,
                verifier,
                passed=cmd.passed,
                note=cmd.note,
                verification_id=new_id("ver-"),
                at=utcnow(),
            )
            uow.cases.add_verification(verification)
            await uow.cases.save(case)
            subject = CASE_VERIFIED if cmd.passed else CASE_REWORK
            uow.publish(verification_event(verification), subject=subject, case_id=case_id)
            response = api.VerifyCaseResponse(verification_id=verification.verification_id)
            uow.remember(VERIFY_KEY, request_id, response.SerializeToString())
            await uow.commit()
    log.info("case verified", case_id=case_id, passed=cmd.passed, verifier=verifier.user_id)
    return response


async def close_case(cmd: CloseCase, caller: Caller, uow: AuditUnitOfWork) -> api.CloseCaseResponse:
    """结案 after a passed verification: publishes CaseClosed. Idempotent by request_id."""
    closer = party(caller)
    rules.require_role(closer, rules.CLOSER_ROLES, "close a case")
    request_id = rules.require_text(cmd.request_id, "request_id")
    case_id = rules.require_text(cmd.case_id, "case_id")
    reason_code = rules.require_text(cmd.reason_code, "reason_code")
    async with uow:
        prior = await uow.seen(CLOSE_KEY, request_id)
        if prior is not None:
            return api.CloseCaseResponse.FromString(prior.result or b"")
        case = await uow.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} is unknown to audit")
        with tracer.start_as_current_span(
            "audit.close",
            links=links_to(case.origin_traceparent),
            attributes={"cityops.case_id": case_id, "cityops.reason_code": reason_code},
        ):
            rules.close(case, closer, reason_code=reason_code, at=utcnow())
            await uow.cases.save(case)
            uow.publish(closed_event(case), subject=CASE_CLOSED, case_id=case_id)
            response = api.CloseCaseResponse(case_id=case_id)
            uow.remember(CLOSE_KEY, request_id, response.SerializeToString())
            await uow.commit()
    log.info("case closed", case_id=case_id, reason_code=reason_code, closer=closer.user_id)
    return response
