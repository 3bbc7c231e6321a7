"""Machine verification (机器核查) as it happens: a recorded detection or
withdrawal is a fresh look; each case awaiting verification it may be about
is judged by `audit.domain.machine`, in the consumer's transaction.

Pass → CaseVerified (machine_verified) and, where the policy says so,
CaseClosed at once; fail → CaseRework, which workorders answers by
reopening the order. Each decision runs in a span linked to the case's
discovery trace, like a person's.
"""

from __future__ import annotations

from opentelemetry import trace

from audit.adapters.integration_events import closed_event, verification_event
from audit.domain import machine, rules
from audit.domain.model import CaseRecord, FreshLook
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.logging import get_logger
from svckit.messaging.subjects import CASE_CLOSED, CASE_REWORK, CASE_VERIFIED
from svckit.telemetry import links_to

log = get_logger(__name__)
tracer = trace.get_tracer("audit")


async def consider_look(
    look: FreshLook, uow: AuditUnitOfWork, policy: machine.VerificationPolicy
) -> None:
    """Remember a reported detection's source; let any look decide the cases
    it is about."""
    if look.absent:
        look = await uow.detections.completed_look(look)
    else:
        await uow.detections.remember(look)
    rule = policy.for_category(look.category_code)
    radius = rule.radius_m if rule.machine_verification else None
    unwritten = uow.detections.unwritten_like(look)
    for case_id in await uow.cases.awaiting_verification(look, radius, unwritten):
        case = await uow.cases.get(case_id)
        if case is None:
            continue
        finding = machine.judge(case, await uow.detections.sources(case_id), look, policy)
        if finding is not None:
            _decide(case, look, finding, uow)
            await uow.cases.save(case)


def _decide(
    case: CaseRecord, look: FreshLook, finding: machine.MachineFinding, uow: AuditUnitOfWork
) -> None:
    with tracer.start_as_current_span(
        "audit.machine_verify",
        links=links_to(case.origin_traceparent),
        attributes={
            "cityops.case_id": case.case_id,
            "cityops.verification.passed": finding.passed,
            "cityops.detection_id": look.detection_id,
        },
    ):
        verifier = machine.machine_party(look)
        verification = rules.machine_verify(
            case,
            finding,
            verifier,
            detection_id=look.detection_id,
            verification_id=new_id("ver-"),
            at=utcnow(),
        )
        uow.cases.add_verification(verification)
        subject = CASE_VERIFIED if finding.passed else CASE_REWORK
        uow.publish(verification_event(verification), subject=subject, case_id=case.case_id)
        if finding.passed and finding.policy.auto_close:
            rules.machine_close(
                case, verifier, reason_code=finding.policy.close_reason_code, at=utcnow()
            )
            uow.publish(closed_event(case), subject=CASE_CLOSED, case_id=case.case_id)
    log.info(
        "machine verification",
        case_id=case.case_id,
        passed=finding.passed,
        detection_id=look.detection_id,
        closed=case.status.value == "closed",
    )
