"""People's commands: file by hand, and triage (file, reject, merge, reclassify, urgency).

Each opens its own transaction, is idempotent by request_id (a retry returns
the stored first answer and changes nothing), and runs in a span linked to the
case's discovery trace, so the decision is found from the case's trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from google.protobuf.message import Message
from opentelemetry import trace

from cityops.intake.v1 import intake_service_pb2 as api
from intake.adapters.case_protos import (
    case_filed,
    case_to_proto,
    merged,
    reclassified,
    rejected,
    urgency_changed,
)
from intake.adapters.subjects import (
    CASE_FILED,
    CASE_MERGED,
    CASE_RECLASSIFIED,
    CASE_REJECTED,
    CASE_URGENCY_CHANGED,
)
from intake.domain import triage
from intake.domain.commands import (
    FileByHand,
    FileTriaged,
    MergeCase,
    ReclassifyCase,
    RejectCase,
    SetUrgency,
)
from intake.domain.filing import Reference, category_of, file_by_hand
from intake.domain.fusion import FusionEntry
from intake.domain.model import Case
from intake.service_layer.detections import new_origin
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.clock import utcnow
from svckit.errors import InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from svckit.telemetry import links_to

log = get_logger(__name__)
tracer = trace.get_tracer("intake.triage")

R = TypeVar("R", bound=Message)

SPAN_NAMES = {
    "grpc:FileCase": "intake.file",
    "grpc:RejectCase": "intake.reject",
    "grpc:MergeCase": "intake.merge",
    "grpc:ReclassifyCase": "intake.reclassify",
    "grpc:SetUrgency": "intake.set_urgency",
}
"""The span of each triage decision, linked to the case's discovery trace."""


async def create_case(
    cmd: FileByHand, caller: Caller, uow: IntakeUnitOfWork, ref: Reference
) -> api.CreateCaseResponse:
    """File a case by hand; a retried request_id returns the first answer, filing nothing."""
    method = "grpc:CreateCase"
    async with uow:
        if cmd.request_id:
            prior = await uow.seen(method, cmd.request_id)
            if prior is not None and prior.result is not None:
                return api.CreateCaseResponse.FromString(prior.result)
        origin = new_origin("")
        case = file_by_hand(cmd, caller.role, caller.user_id, ref, origin)
        await uow.cases.add(case)
        uow.publish(case_filed(case), subject=CASE_FILED, case_id=case.case_id)
        response = api.CreateCaseResponse(case=case_to_proto(case))
        uow.remember(method, cmd.request_id, response.SerializeToString())
        await uow.commit()
    log.info("case filed by hand", case_id=case.case_id, user=caller.user_id, role=caller.role)
    return response


async def _decide(
    method: str,
    request_id: str,
    case_id: str,
    uow: IntakeUnitOfWork,
    parse: Callable[[bytes], R],
    decide: Callable[[Case], Awaitable[R]],
) -> R:
    """One triage decision: replay a seen request_id, else load the case, decide, commit."""
    if not case_id:
        raise InvalidArgumentError("case_id is required")
    async with uow:
        prior = await uow.seen(method, request_id)
        if prior is not None and prior.result is not None:
            return parse(prior.result)
        case = await uow.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        with tracer.start_as_current_span(
            SPAN_NAMES[method],
            links=links_to(case.origin_traceparent),
            attributes={"cityops.case_id": case_id},
        ):
            response = await decide(case)
            uow.remember(method, request_id, response.SerializeToString())
            await uow.commit()
    return response


async def file_case(
    cmd: FileTriaged, caller: Caller, uow: IntakeUnitOfWork
) -> api.FileCaseResponse:
    """立案 from triage: the case is dispatched like any filed case."""
    triage.check_request(caller.role, cmd.request_id, cmd.note)

    async def decide(case: Case) -> api.FileCaseResponse:
        triage.file_triaged(case, cmd.note, utcnow())
        await uow.cases.update(case)
        uow.publish(case_filed(case, caller), subject=CASE_FILED, case_id=case.case_id)
        log.info("triage case filed", case_id=case.case_id, user=caller.user_id)
        return api.FileCaseResponse(case=case_to_proto(case))

    return await _decide(
        "grpc:FileCase", cmd.request_id, cmd.case_id, uow, api.FileCaseResponse.FromString, decide
    )


async def reject_case(
    cmd: RejectCase, caller: Caller, uow: IntakeUnitOfWork
) -> api.RejectCaseResponse:
    """不予立案 with a coded reason; the case leaves the fusion index."""
    triage.check_request(caller.role, cmd.request_id, cmd.note)

    async def decide(case: Case) -> api.RejectCaseResponse:
        before = triage.reject(case, cmd.reason, cmd.note, utcnow())
        await uow.cases.update(case)
        await uow.fusion.forget(case.case_id)
        uow.publish(rejected(case, before, caller), subject=CASE_REJECTED, case_id=case.case_id)
        log.info(
            "case rejected", case_id=case.case_id, reason=case.reject_reason, user=caller.user_id
        )
        return api.RejectCaseResponse(case=case_to_proto(case))

    return await _decide(
        "grpc:RejectCase",
        cmd.request_id,
        cmd.case_id,
        uow,
        api.RejectCaseResponse.FromString,
        decide,
    )


async def merge_case(
    cmd: MergeCase, caller: Caller, uow: IntakeUnitOfWork
) -> api.MergeCaseResponse:
    """The duplicate becomes MERGED; its detections (and their evidence) move to the target."""
    triage.check_request(caller.role, cmd.request_id, cmd.note)
    if not cmd.duplicate_of:
        raise InvalidArgumentError("duplicate_of is required")

    async def decide(case: Case) -> api.MergeCaseResponse:
        target = await uow.cases.get(cmd.duplicate_of, links=False)
        if target is None:
            raise NotFoundError(f"case {cmd.duplicate_of} not found")
        before = triage.merge(case, target, cmd.note, utcnow())
        moved = await uow.cases.move_links(case.case_id, target.case_id)
        case.detection_count = 0
        case.detection_ids, case.evidence, case.withdrawn_detection_ids = [], [], []
        await uow.cases.update(case)
        await uow.cases.update(target)
        await uow.fusion.forget(case.case_id)
        uow.publish(merged(case, moved, before, caller), subject=CASE_MERGED, case_id=case.case_id)
        whole = await uow.cases.get(target.case_id)
        assert whole is not None
        log.info("case merged", case_id=case.case_id, duplicate_of=target.case_id, moved=len(moved))
        return api.MergeCaseResponse(case=case_to_proto(case), target=case_to_proto(whole))

    return await _decide(
        "grpc:MergeCase", cmd.request_id, cmd.case_id, uow, api.MergeCaseResponse.FromString, decide
    )


async def reclassify_case(
    cmd: ReclassifyCase, caller: Caller, uow: IntakeUnitOfWork, ref: Reference
) -> api.ReclassifyCaseResponse:
    """A new 小类: the fusion index follows; dispatch routes the case again."""
    triage.check_request(caller.role, cmd.request_id, cmd.note)
    new = category_of(ref.catalogue, cmd.category_code)

    async def decide(case: Case) -> api.ReclassifyCaseResponse:
        old_code = case.category_code
        old = category_of(ref.catalogue, old_code)
        triage.reclassify(case, old, new, ref.city_map, cmd.note, utcnow())
        await uow.cases.update(case)
        entry = await uow.fusion.get(case.case_id)
        if entry is not None:
            await uow.fusion.put(_recategorised(entry, new.code))
        event = reclassified(case, old_code, caller)
        uow.publish(event, subject=CASE_RECLASSIFIED, case_id=case.case_id)
        log.info("case reclassified", case_id=case.case_id, old=old_code, new=new.code)
        return api.ReclassifyCaseResponse(case=case_to_proto(case))

    return await _decide(
        "grpc:ReclassifyCase",
        cmd.request_id,
        cmd.case_id,
        uow,
        api.ReclassifyCaseResponse.FromString,
        decide,
    )


async def set_urgency(
    cmd: SetUrgency, caller: Caller, uow: IntakeUnitOfWork
) -> api.SetUrgencyResponse:
    """A new urgency; setting the one it has already changes and publishes nothing."""
    triage.check_request(caller.role, cmd.request_id, cmd.note)

    async def decide(case: Case) -> api.SetUrgencyResponse:
        old = triage.set_urgency(case, cmd.urgency, cmd.note, utcnow())
        if old is not None:
            await uow.cases.update(case)
            event = urgency_changed(case, old, cmd.note, caller)
            uow.publish(event, subject=CASE_URGENCY_CHANGED, case_id=case.case_id)
            log.info("urgency set", case_id=case.case_id, old=old, new=case.urgency)
        return api.SetUrgencyResponse(case=case_to_proto(case))

    return await _decide(
        "grpc:SetUrgency",
        cmd.request_id,
        cmd.case_id,
        uow,
        api.SetUrgencyResponse.FromString,
        decide,
    )


def _recategorised(entry: FusionEntry, code: str) -> FusionEntry:
    return replace(entry, category_code=code)
