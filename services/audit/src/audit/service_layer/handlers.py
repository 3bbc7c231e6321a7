"""Audit's use cases: record every event in the ledger, read and verify it,
verify (核查) and close (结案) cases.

Event handlers run inside the pull worker's transaction and never commit;
command handlers open their own unit of work and commit once.
"""

from __future__ import annotations

from opentelemetry import trace

from audit.adapters.integration_events import (
    EventTranslator,
    closed_event,
    verification_event,
)
from audit.domain import rules
from audit.domain.commands import CloseCase, VerifyCase
from audit.domain.ledger import chain_entry, verify_chain
from audit.domain.model import ChainCheck, EventFacts, LedgerEntry, Party
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


async def record_event(
    event: IncomingEvent, uow: AuditUnitOfWork, translator: EventTranslator
) -> None:
    """Append one entry for the event (once, whatever the redeliveries) and
    update the case it concerns. Runs in the consumer span, whose ids the
    entry records so an auditor can open the trace of this step."""
    facts = translator.facts(event)
    if await uow.ledger.has_event(facts.event_id):
        log.info("event already in the ledger", case_id=facts.case_id, event_id=facts.event_id)
        return
    last_sequence, last_hash = await uow.ledger.head()
    trace_id, span_id = trace_ids()
    entry = chain_entry(
        facts,
        sequence=last_sequence + 1,
        previous_hash=last_hash,
        recorded_at=utcnow(),
        trace_id=trace_id,
        span_id=span_id,
    )
    await uow.ledger.append(entry)
    if facts.filed_detection_ids and facts.case_id:
        await uow.ledger.link_detections(facts.case_id, facts.filed_detection_ids)
    if facts.case_id:
        await _track_case(facts, uow)
    log.info(
        "ledger entry appended",
        case_id=facts.case_id,
        sequence=entry.sequence,
        event_type=facts.event_type,
    )


async def _track_case(facts: EventFacts, uow: AuditUnitOfWork) -> None:
    case = await uow.cases.get_or_new(facts.case_id)
    rules.note_event(case, facts.traceparent, files_case=facts.files_case)
    if facts.completes_work and not rules.record_completion(case, rules.disposer_of(facts)):
        log.warning(
            "completion after verification; status unchanged",
            case_id=case.case_id,
            status=case.status.value,
        )
    await uow.cases.save(case)


async def get_timeline(case_id: str, caller: Caller, uow: AuditUnitOfWork) -> list[LedgerEntry]:
    """The case's history in ledger order, with the detections it was filed from."""
    rules.require_role(_party(caller), rules.READER_ROLES, "read the ledger")
    case_id = rules.require_text(case_id, "case_id")
    async with uow:
        entries = await uow.ledger.timeline(case_id)
    if not entries:
        raise NotFoundError(f"no ledger entries for case {case_id}")
    return entries


async def verify_ledger(uow: AuditUnitOfWork, caller: Caller | None = None) -> ChainCheck:
    """Recompute the whole chain (the CLI calls this with no caller)."""
    if caller is not None:
        rules.require_role(_party(caller), rules.READER_ROLES, "verify the ledger")
    async with uow:
        entries = await uow.ledger.all_entries()
    return verify_chain(entries)


async def verify_case(
    cmd: VerifyCase, caller: Caller, uow: AuditUnitOfWork
) -> api.VerifyCaseResponse:
    """核查: passed → CaseVerified; failed → CaseRework. Idempotent by request_id."""
    verifier = _party(caller)
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
    closer = _party(caller)
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


def _party(caller: Caller) -> Party:
    return Party(user_id=caller.user_id, department_id=caller.department_id, role=caller.role)
