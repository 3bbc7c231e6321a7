"""Triage and filing commands on a real unit of work, on SQLite and PostgreSQL:
effects, events, idempotency by request_id, and refusals that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.intake.v1 import case_pb2, events_pb2
from intake.adapters import tables  # noqa: F401  (registers the tables)
from intake.adapters.subjects import (
    CASE_FILED,
    CASE_MERGED,
    CASE_RECLASSIFIED,
    CASE_REJECTED,
    CASE_URGENCY_CHANGED,
)
from intake.adapters.tables import FusionEntryRow
from intake.domain.commands import (
    FileByHand,
    FileTriaged,
    MergeCase,
    ReclassifyCase,
    RejectCase,
    SetUrgency,
)
from intake.domain.filing import Reference
from intake.domain.model import CaseState, RejectReason
from intake.service_layer import actions, handlers, queries
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit import db
from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from svckit.grpc.identity import Caller
from svckit.messaging.envelope import unwrap, wrap
from svckit.messaging.subjects import DETECTION_REPORTED
from svckit.tables import OutboxMessage

Report = Callable[..., detection_events.DetectionReported]
Near = Callable[..., tuple[float, float]]
OPERATOR = Caller(user_id="op-1", role="operator")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def uow(engine: AsyncEngine) -> IntakeUnitOfWork:
    return IntakeUnitOfWork(engine, "intake")


async def outbox(engine: AsyncEngine, subject: str) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        rows = (
            await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.position)))
        ).all()
    return [r for r in rows if r.subject == subject]


async def queued_case(
    engine: AsyncEngine,
    ref: Reference,
    report: Report,
    point: tuple[float, float],
    detection_id: str,
    confidence: float = 0.6,
) -> str:
    """A case opened by a detection (TRIAGE at 0.6, FILED at 0.9); returns its id."""
    env = wrap(
        report(point, detection_id, code="E0105", confidence=confidence),
        service="detection",
        subject=DETECTION_REPORTED,
    )
    async with uow(engine) as work:
        await handlers.on_detection_event(
            unwrap(DETECTION_REPORTED, env.headers(), env.body), work, ref=ref
        )
        await work.commit()
    async with uow(engine) as work:
        case_id = await work.cases.case_for_detection(detection_id)
    assert case_id is not None
    return case_id


async def test_create_case_twice_with_one_request_id_files_once(
    db_engine: AsyncEngine, ref: Reference, inside: tuple[float, float]
) -> None:
    cmd = FileByHand("req-1", "C0101", "", inside[0], inside[1], common_pb2.URGENCY_EXPECTED)
    first = await actions.create_case(cmd, OPERATOR, uow(db_engine), ref)
    again = await actions.create_case(cmd, OPERATOR, uow(db_engine), ref)
    assert again == first and first.case.state == case_pb2.CASE_STATE_FILED
    assert len(await outbox(db_engine, CASE_FILED)) == 1
    case = await queries.get_case(first.case.case_id, uow(db_engine))
    assert case.filed_by == "op-1" and case.detection_count == 0


async def test_file_a_triage_case_publishes_case_filed_once(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    case_id = await queued_case(db_engine, ref, detection_report, inside, "d1")
    assert await outbox(db_engine, CASE_FILED) == []
    cmd = FileTriaged("req-f", case_id, "现场确认")
    first = await actions.file_case(cmd, OPERATOR, uow(db_engine))
    again = await actions.file_case(cmd, OPERATOR, uow(db_engine))
    assert first == again and first.case.state == case_pb2.CASE_STATE_FILED
    assert first.case.triage_note == "现场确认" and list(first.case.detection_ids) == ["d1"]
    [published] = await outbox(db_engine, CASE_FILED)
    filed = events_pb2.CaseFiled.FromString(published.body)
    assert filed.filed_by.user_id == "op-1" and filed.case.case_id == case_id
    with pytest.raises(FailedPreconditionError):
        await actions.file_case(FileTriaged("req-f2", case_id), OPERATOR, uow(db_engine))


async def test_reject_with_a_coded_reason(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    case_id = await queued_case(db_engine, ref, detection_report, inside, "d1")
    cmd = RejectCase("req-r", case_id, RejectReason.FALSE_ALARM, "树影")
    done = await actions.reject_case(cmd, OPERATOR, uow(db_engine))
    assert await actions.reject_case(cmd, OPERATOR, uow(db_engine)) == done
    assert done.case.reject_reason == case_pb2.REJECT_REASON_FALSE_ALARM
    [published] = await outbox(db_engine, CASE_REJECTED)
    event = events_pb2.CaseRejected.FromString(published.body)
    assert (event.reason, event.note, event.rejected_by.role) == (
        case_pb2.REJECT_REASON_FALSE_ALARM,
        "树影",
        common_pb2.ACTOR_ROLE_OPERATOR,
    )
    async with db.session_factory(db_engine)() as session:
        assert (await session.get(FusionEntryRow, case_id)) is None


async def test_merge_moves_the_detections_to_the_open_case(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    target = await queued_case(db_engine, ref, detection_report, inside, "t1", 0.9)
    duplicate = await queued_case(db_engine, ref, detection_report, near(inside, 200), "d1")
    cmd = MergeCase("req-m", duplicate, target, "同一坑洼")
    done = await actions.merge_case(cmd, OPERATOR, uow(db_engine))
    assert await actions.merge_case(cmd, OPERATOR, uow(db_engine)) == done
    assert (done.case.state, done.case.duplicate_of) == (case_pb2.CASE_STATE_MERGED, target)
    assert list(done.target.detection_ids) == ["t1", "d1"] and done.target.detection_count == 2
    assert len(done.target.evidence) == 2
    [published] = await outbox(db_engine, CASE_MERGED)
    event = events_pb2.CaseMerged.FromString(published.body)
    assert (event.duplicate_of, list(event.detection_ids)) == (target, ["d1"])
    assert event.previous_state == case_pb2.CASE_STATE_TRIAGE
    with pytest.raises(FailedPreconditionError):  # the duplicate is final now
        await actions.merge_case(MergeCase("req-m2", duplicate, target), OPERATOR, uow(db_engine))
    with pytest.raises(NotFoundError):
        await actions.merge_case(MergeCase("req-m3", target, "case-nope"), OPERATOR, uow(db_engine))


async def test_reclassify_publishes_old_and_new_codes_and_moves_the_fusion_entry(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    case_id = await queued_case(db_engine, ref, detection_report, inside, "d1", 0.9)
    cmd = ReclassifyCase("req-c", case_id, "E0101", "是垃圾不是坑")
    done = await actions.reclassify_case(cmd, OPERATOR, uow(db_engine), ref)
    assert await actions.reclassify_case(cmd, OPERATOR, uow(db_engine), ref) == done
    assert done.case.category_code == "E0101" and done.case.state == case_pb2.CASE_STATE_FILED
    [published] = await outbox(db_engine, CASE_RECLASSIFIED)
    event = events_pb2.CaseReclassified.FromString(published.body)
    assert (event.old_category_code, event.new_category_code) == ("E0105", "E0101")
    assert event.case.title.startswith(ref.catalogue.get("E0101").name_zh)
    async with db.session_factory(db_engine)() as session:
        entry = await session.get(FusionEntryRow, case_id)
    assert entry is not None and entry.category_code == "E0101"
    with pytest.raises(InvalidArgumentError, match="unknown category"):
        await actions.reclassify_case(
            ReclassifyCase("req-c2", case_id, "Z9999"), OPERATOR, uow(db_engine), ref
        )


async def test_set_urgency_publishes_only_a_change(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    case_id = await queued_case(db_engine, ref, detection_report, inside, "d1")
    done = await actions.set_urgency(
        SetUrgency("req-u", case_id, common_pb2.URGENCY_EXPECTED, "可以等"),
        OPERATOR,
        uow(db_engine),
    )
    assert done.case.urgency == common_pb2.URGENCY_EXPECTED
    await actions.set_urgency(
        SetUrgency("req-u2", case_id, common_pb2.URGENCY_EXPECTED), OPERATOR, uow(db_engine)
    )
    [published] = await outbox(db_engine, CASE_URGENCY_CHANGED)
    event = events_pb2.CaseUrgencyChanged.FromString(published.body)
    assert (event.old_urgency, event.new_urgency) == (
        common_pb2.URGENCY_IMMEDIATE,
        common_pb2.URGENCY_EXPECTED,
    )


async def test_refusals_change_nothing(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    case_id = await queued_case(db_engine, ref, detection_report, inside, "d1")
    department = Caller(user_id="d-1", role="department_user", department_id="dept-water")
    with pytest.raises(PermissionDeniedError):
        await actions.file_case(FileTriaged("r1", case_id), department, uow(db_engine))
    with pytest.raises(InvalidArgumentError, match="request_id"):
        await actions.file_case(FileTriaged("", case_id), OPERATOR, uow(db_engine))
    with pytest.raises(NotFoundError):
        await actions.file_case(FileTriaged("r2", "case-nope"), OPERATOR, uow(db_engine))
    with pytest.raises(InvalidArgumentError, match="reason"):
        await actions.reject_case(RejectCase("r3", case_id, None), OPERATOR, uow(db_engine))
    with pytest.raises(InvalidArgumentError):
        await actions.set_urgency(SetUrgency("r4", case_id, 0), OPERATOR, uow(db_engine))
    case = await queries.get_case(case_id, uow(db_engine))
    assert case.state is CaseState.TRIAGE and case.urgency == common_pb2.URGENCY_IMMEDIATE
    # A refused request_id is not remembered: the same id may be used again, correctly.
    done = await actions.file_case(FileTriaged("r2", case_id), OPERATOR, uow(db_engine))
    assert done.case.state == case_pb2.CASE_STATE_FILED
