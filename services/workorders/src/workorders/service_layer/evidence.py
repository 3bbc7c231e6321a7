"""Uploading evidence to the object store and reading it back verified.

An upload is checked (type, size, content), hashed, its EXIF provenance
compared with the case's place and the order's time window (doubts become
flags), stored, and only then recorded; the object key derives from the
request, so a retry after a failure overwrites instead of orphaning.
"""

from __future__ import annotations

from datetime import datetime

from cityops.workorders.v1 import workorders_service_pb2 as api
from svckit.clock import utcnow
from svckit.errors import DomainError, InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger
from workorders.adapters.messages import evidence_item_message
from workorders.domain import commands, rules
from workorders.domain.evidence import (
    PHOTO_KINDS,
    EvidenceIntegrityError,
    EvidenceItem,
    Flag,
    FlagCode,
    PhotoMetadata,
    check_upload,
    evidence_id_for,
    object_key,
    provenance_flags,
    sha256_hex,
)
from workorders.domain.model import WorkOrder
from workorders.service_layer.actions import action_span
from workorders.service_layer.ports import EvidenceRules
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

log = get_logger(__name__)
INBOX_KEY = "grpc:UploadEvidence"


async def upload_evidence(
    cmd: commands.UploadEvidence,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    evidence: EvidenceRules,
) -> api.UploadEvidenceResponse:
    """Store a department's file for its order; idempotent by request_id."""
    rules.require_request_id(cmd.request_id)
    async with uow:
        order = await _own_order(uow, caller, cmd.order_id)
        prior = await uow.seen(INBOX_KEY, cmd.request_id)
        if prior is not None:
            return _replay(prior.result, cmd.request_id, cmd.order_id)
        order.ensure_accepts_evidence(caller)
    with action_span("workorders.upload_evidence", order):
        file_name = check_upload(
            evidence.policy,
            file_name=cmd.file_name,
            media_type=cmd.media_type,
            content=cmd.content,
            kind=cmd.kind,
        )
        now = utcnow()
        item = _item(cmd, caller, order, evidence, file_name=file_name, now=now)
        await evidence.store.put(item.key, cmd.content)
        return await _record(uow, caller, cmd, item, evidence)


async def get_evidence(
    cmd: commands.GetEvidence,
    caller: Caller,
    uow: WorkOrdersUnitOfWork,
    evidence: EvidenceRules,
) -> tuple[EvidenceItem, bytes]:
    """The file and its record, after checking the bytes still hash to what
    was recorded at upload; a mismatch is flagged on the evidence and raised."""
    rules.read_scope(caller)
    async with uow:
        order = await uow.orders.get(cmd.order_id)
        if order is None:
            raise NotFoundError(f"work order {cmd.order_id} not found")
        rules.ensure_visible(caller, order.order_id, order.department_id)
        item = await uow.evidence.get(cmd.evidence_id)
    if item is None or item.order_id != order.order_id:
        raise NotFoundError(f"evidence {cmd.evidence_id} not found on work order {order.order_id}")
    try:
        content = await evidence.store.read(item.key)
        if sha256_hex(content) != item.sha256:
            raise EvidenceIntegrityError(
                f"evidence {item.evidence_id} no longer matches the sha256 recorded at upload"
            )
    except EvidenceIntegrityError as exc:
        await _flag(uow, item, Flag(FlagCode.INTEGRITY_MISMATCH, str(exc)))
        raise
    return item, content


async def _own_order(uow: WorkOrdersUnitOfWork, caller: Caller, order_id: str) -> WorkOrder:
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFoundError(f"work order {order_id} not found")
    rules.ensure_may_act(caller, order.department_id, "upload evidence for")
    return order


def _item(
    cmd: commands.UploadEvidence,
    caller: Caller,
    order: WorkOrder,
    evidence: EvidenceRules,
    *,
    file_name: str,
    now: datetime,
) -> EvidenceItem:
    """The record of the upload, with the photo's provenance checked."""
    meta = PhotoMetadata()
    flags: tuple[Flag, ...] = ()
    if cmd.kind in PHOTO_KINDS:
        meta = evidence.read_metadata(cmd.content)
        flags = provenance_flags(
            meta,
            order.place,
            earliest=order.created_at - evidence.policy.slack_before,
            latest=now + evidence.policy.clock_skew,
            max_distance_m=evidence.policy.max_distance_m,
        )
    evidence_id = evidence_id_for(order.order_id, cmd.request_id)
    return EvidenceItem(
        evidence_id=evidence_id,
        order_id=order.order_id,
        case_id=order.case_id,
        department_id=order.department_id,
        kind=cmd.kind,
        file_name=file_name,
        media_type=cmd.media_type,
        size_bytes=len(cmd.content),
        sha256=sha256_hex(cmd.content),
        bucket=evidence.store.bucket,
        key=object_key(order.order_id, evidence_id),
        uploaded_at=now,
        uploaded_by=caller.user_id,
        metadata=meta,
        flags=flags,
    )


async def _record(
    uow: WorkOrdersUnitOfWork,
    caller: Caller,
    cmd: commands.UploadEvidence,
    item: EvidenceItem,
    evidence: EvidenceRules,
) -> api.UploadEvidenceResponse:
    """Record the stored file, unless a concurrent retry did, or the order
    moved on meanwhile (then the object goes again)."""
    async with uow:
        prior = await uow.seen(INBOX_KEY, cmd.request_id)
        if prior is not None:
            return _replay(prior.result, cmd.request_id, cmd.order_id)
        order = await _own_order(uow, caller, cmd.order_id)
        try:
            order.ensure_accepts_evidence(caller)
        except DomainError:
            await evidence.store.delete(item.key)
            raise
        uow.evidence.add(item)
        response = api.UploadEvidenceResponse(evidence=evidence_item_message(item))
        uow.remember(INBOX_KEY, cmd.request_id, response.SerializeToString())
        await uow.commit()
    log.info(
        "evidence uploaded",
        case_id=item.case_id,
        order_id=item.order_id,
        evidence_id=item.evidence_id,
        kind=item.kind.value,
        flags=[f.code.value for f in item.flags],
    )
    return response


async def _flag(uow: WorkOrdersUnitOfWork, item: EvidenceItem, flag: Flag) -> None:
    log.error(
        "evidence failed its integrity check",
        case_id=item.case_id,
        order_id=item.order_id,
        evidence_id=item.evidence_id,
        problem=flag.detail,
    )
    flagged = item.with_flag(flag)
    if flagged is item:
        return
    async with uow:
        await uow.evidence.save_flags(flagged)
        await uow.commit()


def _replay(stored: bytes | None, request_id: str, order_id: str) -> api.UploadEvidenceResponse:
    response = api.UploadEvidenceResponse.FromString(stored or b"")
    if response.evidence.order_id != order_id:
        raise InvalidArgumentError(f"request_id {request_id} was used for another work order")
    return response
