"""Upload, read-back and completion on SQLite and PostgreSQL with an
in-memory object store: idempotent uploads, provenance flags, integrity (a changed
byte is detected) and the catalogue's 结案条件."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.workorders.v1 import work_order_pb2
from svckit.clock import utcnow
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import IncomingEvent
from workorders.domain import commands
from workorders.domain.evidence import EvidenceIntegrityError, EvidenceKind
from workorders.domain.model import WorkOrder
from workorders.domain.notifications import WebhookDirectory
from workorders.service_layer import actions, evidence, handlers
from workorders.service_layer.ports import EvidenceRules, Notifier
from workorders.service_layer.unit_of_work import WorkOrdersUnitOfWork

WATER = Caller("u-water", "department_user", "water")
LAT, LON = 31.2304, 121.4737


def uow_of(engine: AsyncEngine) -> WorkOrdersUnitOfWork:
    return WorkOrdersUnitOfWork(engine, "workorders")


async def accepted(engine: AsyncEngine, category: str = "E0105") -> WorkOrder:
    msg = dispatch_events.CaseDispatched(
        case_id="C-1", dispatch_id="D-1", department_id="water", category_code=category
    )
    msg.place.point.latitude, msg.place.point.longitude = LAT, LON
    event = IncomingEvent(
        id="E-1",
        type=msg.DESCRIPTOR.full_name,
        source="/cityops/dispatch",
        subject="",
        case_id="C-1",
        time=utcnow(),
        message=msg,
        headers={},
    )
    async with uow_of(engine) as uow:
        await handlers.on_dispatch_event(event, uow, Notifier(WebhookDirectory({})))
        await uow.commit()
    async with uow_of(engine) as uow:
        [order] = await uow.orders.find(department_id="water", limit=1)
    await actions.accept_work_order(
        commands.AcceptWorkOrder("a-1", order.order_id), WATER, uow_of(engine)
    )
    return order


def upload(
    order: WorkOrder, request_id: str, kind: EvidenceKind, content: bytes
) -> commands.UploadEvidence:
    return commands.UploadEvidence(
        request_id, order.order_id, f"{kind}.jpg", "image/jpeg", content, kind
    )


async def test_an_upload_is_hashed_stored_once_and_flagged_where_doubtful(
    db_engine: AsyncEngine,
    evidence_rules_factory: Callable[..., EvidenceRules],
    make_photo: Callable[..., bytes],
    memory_store,  # type: ignore[no-untyped-def]
) -> None:
    order = await accepted(db_engine)
    rules = evidence_rules_factory()
    good = make_photo(latitude=LAT, longitude=LON, taken_at=utcnow())
    cmd = upload(order, "u-1", EvidenceKind.BEFORE_PHOTO, good)
    first = await evidence.upload_evidence(cmd, WATER, uow_of(db_engine), rules)
    again = await evidence.upload_evidence(cmd, WATER, uow_of(db_engine), rules)
    assert again == first and memory_store.puts == 1
    assert (
        first.evidence.ref.uri
        == f"nats-os://test-evidence/{order.order_id}/{first.evidence.evidence_id}"
    )
    assert first.evidence.ref.sha256 == hashlib.sha256(good).hexdigest()
    assert list(first.evidence.flags) == []
    assert first.evidence.captured_point.latitude == pytest.approx(LAT, abs=1e-5)

    far_and_old = make_photo(
        latitude=LAT + 0.01, longitude=LON, taken_at=utcnow() - timedelta(days=3)
    )
    flagged = await evidence.upload_evidence(
        upload(order, "u-2", EvidenceKind.AFTER_PHOTO, far_and_old),
        WATER,
        uow_of(db_engine),
        rules,
    )
    assert sorted(f.code for f in flagged.evidence.flags) == [
        "location_mismatch",
        "time_outside_window",
    ]
    _, items = await actions.get_work_order(
        commands.GetWorkOrder(order.order_id), WATER, uow_of(db_engine)
    )
    assert [i.evidence_id for i in items] == [
        first.evidence.evidence_id,
        flagged.evidence.evidence_id,
    ]

    with pytest.raises(NotFoundError, match="WO-other"):
        other = commands.UploadEvidence(
            "u-1", "WO-other", "a.jpg", "image/jpeg", good, EvidenceKind.OTHER
        )
        await evidence.upload_evidence(other, WATER, uow_of(db_engine), rules)
    with pytest.raises(InvalidArgumentError, match="not accepted"):
        bad = commands.UploadEvidence(
            "u-3", order.order_id, "a.gif", "image/gif", b"GIF89a", EvidenceKind.OTHER
        )
        await evidence.upload_evidence(bad, WATER, uow_of(db_engine), rules)
    assert memory_store.puts == 2


async def test_a_changed_byte_is_detected_on_read_and_blocks_completion(
    db_engine: AsyncEngine,
    evidence_rules_factory: Callable[..., EvidenceRules],
    make_photo: Callable[..., bytes],
    memory_store,  # type: ignore[no-untyped-def]
) -> None:
    order = await accepted(db_engine)
    rules = evidence_rules_factory(require_uploaded_evidence=True)
    photo = make_photo(latitude=LAT, longitude=LON, taken_at=utcnow())
    before = await evidence.upload_evidence(
        upload(order, "u-1", EvidenceKind.BEFORE_PHOTO, photo), WATER, uow_of(db_engine), rules
    )
    after = await evidence.upload_evidence(
        upload(order, "u-2", EvidenceKind.AFTER_PHOTO, photo), WATER, uow_of(db_engine), rules
    )
    read = commands.GetEvidence(order.order_id, before.evidence.evidence_id)
    item, content = await evidence.get_evidence(read, WATER, uow_of(db_engine), rules)
    assert content == photo and item.sha256 == before.evidence.ref.sha256

    key = f"{order.order_id}/{before.evidence.evidence_id}"
    tampered = bytearray(memory_store.objects[key])
    tampered[len(tampered) // 2] ^= 0x01
    memory_store.objects[key] = bytes(tampered)
    with pytest.raises(EvidenceIntegrityError, match="no longer matches"):
        await evidence.get_evidence(read, WATER, uow_of(db_engine), rules)
    _, items = await actions.get_work_order(
        commands.GetWorkOrder(order.order_id), WATER, uow_of(db_engine)
    )
    assert [f.code.value for f in items[0].flags] == ["integrity_mismatch"]
    assert items[1].flags == ()

    complete = commands.CompleteWorkOrder("c-1", order.order_id, "fixed")
    with pytest.raises(FailedPreconditionError, match="no longer matches its sha256"):
        await actions.complete_work_order(complete, WATER, uow_of(db_engine), rules)
    memory_store.objects[key] = photo  # restored
    done = await actions.complete_work_order(complete, WATER, uow_of(db_engine), rules)
    assert done.work_order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
    assert [e.sha256 for e in done.work_order.evidence] == [
        before.evidence.ref.sha256,
        after.evidence.ref.sha256,
    ]
    missing = commands.GetEvidence(order.order_id, "EV-nope")
    with pytest.raises(NotFoundError):
        await evidence.get_evidence(missing, WATER, uow_of(db_engine), rules)


async def test_the_catalogue_decides_what_completion_needs(
    db_engine: AsyncEngine,
    evidence_rules_factory: Callable[..., EvidenceRules],
    make_photo: Callable[..., bytes],
) -> None:
    order = await accepted(db_engine)
    strict = evidence_rules_factory(require_uploaded_evidence=True)
    photo = make_photo(latitude=LAT, longitude=LON, taken_at=utcnow())
    complete = commands.CompleteWorkOrder("c-1", order.order_id, "fixed")
    with pytest.raises(
        FailedPreconditionError, match="E0105 requires to close: before_photo, after_photo"
    ):
        await actions.complete_work_order(complete, WATER, uow_of(db_engine), strict)
    await evidence.upload_evidence(
        upload(order, "u-1", EvidenceKind.BEFORE_PHOTO, photo), WATER, uow_of(db_engine), strict
    )
    with pytest.raises(FailedPreconditionError, match="requires to close: after_photo"):
        await actions.complete_work_order(complete, WATER, uow_of(db_engine), strict)
    await evidence.upload_evidence(
        upload(order, "u-2", EvidenceKind.AFTER_PHOTO, photo), WATER, uow_of(db_engine), strict
    )
    done = await actions.complete_work_order(complete, WATER, uow_of(db_engine), strict)
    assert done.work_order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
    # Uploads close with the order: none after completion.
    with pytest.raises(FailedPreconditionError, match="completed"):
        await evidence.upload_evidence(
            upload(order, "u-3", EvidenceKind.OTHER, photo), WATER, uow_of(db_engine), strict
        )


async def test_a_category_without_required_evidence_completes_with_a_note(
    db_engine: AsyncEngine, evidence_rules_factory: Callable[..., EvidenceRules]
) -> None:
    order = await accepted(db_engine, category="E0301")  # 结案条件 name no photos
    strict = evidence_rules_factory(require_uploaded_evidence=True)
    complete = commands.CompleteWorkOrder("c-1", order.order_id, "handled")
    done = await actions.complete_work_order(complete, WATER, uow_of(db_engine), strict)
    assert done.work_order.state == work_order_pb2.WORK_ORDER_STATE_COMPLETED
