"""Intake's event handlers on a real unit of work, on SQLite and PostgreSQL (no NATS:
the outbox shows what would be published)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2, events_pb2
from cityops.workorders.v1 import events_pb2 as workorder_events
from intake.adapters import tables  # noqa: F401  (registers the tables)
from intake.adapters.subjects import (
    CASE_CORROBORATED,
    CASE_FILED,
    CASE_REJECTED,
    DETECTION_DISCARDED,
)
from intake.adapters.tables import CaseRow, DiscardRow, FusionEntryRow
from intake.domain.filing import Reference
from intake.domain.model import CaseState, RejectReason
from intake.service_layer import handlers, queries
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit import db
from svckit.messaging.envelope import IncomingEvent, unwrap, wrap
from svckit.messaging.subjects import (
    CASE_BACKLOGGED,
    CASE_CLOSED,
    CASE_DISPATCHED,
    CASE_RESUMED,
    DETECTION_REPORTED,
    WORKORDER_ACCEPTED,
    subject,
)
from svckit.tables import OutboxMessage

Report = Callable[..., detection_events.DetectionReported]
Near = Callable[..., tuple[float, float]]
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DETECTION_WITHDRAWN = subject("detection", "detection", "withdrawn")


def uow(engine: AsyncEngine) -> IntakeUnitOfWork:
    return IntakeUnitOfWork(engine, "intake")


def event(message: Message, subject_: str, service: str, case_id: str = "") -> IncomingEvent:
    env = wrap(message, service=service, subject=subject_, case_id=case_id)
    return unwrap(subject_, env.headers(), env.body)


def detected(message: Message) -> IncomingEvent:
    return event(message, DETECTION_REPORTED, "detection")


async def deliver(
    engine: AsyncEngine,
    *incoming: IncomingEvent,
    ref: Reference | None = None,
    prepare: bool = True,
) -> None:
    """What the pull worker does: a fetched batch's handlers in one transaction,
    then commit; each stream's batches preloaded first (`prepare=False`:
    as a message retried on its own is handled)."""
    async with uow(engine) as work:
        if prepare:
            await handlers.prepare_detections(
                [e for e in incoming if e.subject.startswith("cityops.detection.")], work
            )
            await handlers.prepare_progress(
                [e for e in incoming if not e.subject.startswith("cityops.detection.")], work
            )
        for one in incoming:
            if one.subject.startswith("cityops.detection."):
                assert ref is not None
                await handlers.on_detection_event(one, work, ref=ref)
            else:
                await handlers.on_case_progress(one, work)
        await work.commit()


async def outbox(engine: AsyncEngine, subject_: str | None = None) -> list[OutboxMessage]:
    async with db.session_factory(engine)() as session:
        rows = list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.position)))).all()
        )
    return [r for r in rows if subject_ is None or r.subject == subject_]


async def rows(engine: AsyncEngine, table: type[CaseRow | DiscardRow | FusionEntryRow]) -> list:  # type: ignore[type-arg]
    async with db.session_factory(engine)() as session:
        return list((await session.exec(select(table))).all())


async def all_cases(engine: AsyncEngine) -> list[case_pb2.Case]:
    from intake.adapters.case_protos import case_to_proto
    from intake.domain.model import CaseQuery

    page = await queries.list_cases(CaseQuery(limit=500), uow(engine))
    return [case_to_proto(c) for c in page.cases]


# --- filing, once --------------------------------------------------------------------


async def test_a_detection_files_one_case_even_when_sent_again_as_a_new_event(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    await deliver(db_engine, detected(detection_report(inside)), ref=ref)
    await deliver(db_engine, detected(detection_report(inside)), ref=ref)  # new ce-id
    [row] = await rows(db_engine, CaseRow)
    assert row.state == "filed" and row.case_id.startswith("case-")
    assert row.title.startswith("上水井盖 · ") and row.district_code
    assert row.urgency == common_pb2.URGENCY_IMMEDIATE
    [sent] = await outbox(db_engine)
    assert sent.subject == CASE_FILED and sent.case_id == row.case_id
    filed = events_pb2.CaseFiled.FromString(sent.body)
    assert filed.case.case_id == row.case_id and list(filed.case.detection_ids) == ["det-1"]
    assert filed.case.certainty == 0.9 and len(filed.case.evidence) == 1
    assert not filed.HasField("filed_by")


async def test_policy_bands_file_queue_and_discard(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(
        db_engine,
        detected(detection_report(inside, "det-auto", confidence=0.9)),
        detected(detection_report(near(inside, 500), "det-review", confidence=0.6)),
        detected(detection_report(near(inside, 1000), "det-low", confidence=0.2)),
        detected(detection_report(near(inside, 1500), "det-unknown", code="Z9999")),
        ref=ref,
    )
    by_detection = {c.detection_ids[0]: c for c in await all_cases(db_engine)}
    assert set(by_detection) == {"det-auto", "det-review"}
    assert by_detection["det-auto"].state == case_pb2.CASE_STATE_FILED
    assert by_detection["det-review"].state == case_pb2.CASE_STATE_TRIAGE
    [filed] = await outbox(db_engine, CASE_FILED)
    assert filed.case_id == by_detection["det-auto"].case_id  # triage publishes no CaseFiled
    discards = {r.detection_id: r for r in await rows(db_engine, DiscardRow)}
    assert discards["det-low"].reason == "below_threshold" and discards["det-low"].threshold == 0.5
    assert discards["det-unknown"].reason == "unknown_category"
    published = [
        events_pb2.DetectionDiscarded.FromString(m.body)
        for m in await outbox(db_engine, DETECTION_DISCARDED)
    ]
    low = next(e for e in published if e.detection_id == "det-low")
    assert (low.category_code, low.confidence, low.threshold) == ("C0101", 0.2, 0.5)
    assert low.reason == events_pb2.DISCARD_REASON_BELOW_THRESHOLD and low.source_kind == "video_ai"
    # A discarded detection sent again is not discarded (or filed) twice:
    await deliver(db_engine, detected(detection_report(inside, "det-low", confidence=0.2)), ref=ref)
    assert len(await outbox(db_engine, DETECTION_DISCARDED)) == 2
    found, total = await queries.list_discards(0, 10, uow(db_engine))
    assert total == 2 and {d.detection_id for d in found} == {"det-low", "det-unknown"}


@pytest.mark.parametrize("prepare", [True, False], ids=["preloaded", "one-by-one"])
async def test_a_detection_resent_in_a_later_batch_is_taken_once(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    prepare: bool,
) -> None:
    """The worker preloads a batch's outcomes but handles a retried message on
    its own: either way a linked or discarded detection is not taken again."""
    await deliver(
        db_engine,
        detected(detection_report(inside, "det-a")),
        detected(detection_report(inside, "det-quiet", confidence=0.1)),
        ref=ref,
    )
    await deliver(
        db_engine,
        detected(detection_report(inside, "det-a")),  # resent under a new event id
        detected(detection_report(inside, "det-quiet", confidence=0.1)),
        detected(detection_report(inside, "det-new")),
        ref=ref,
        prepare=prepare,
    )
    [case] = await all_cases(db_engine)
    assert sorted(case.detection_ids) == ["det-a", "det-new"] and case.detection_count == 2
    assert [r.detection_id for r in await rows(db_engine, DiscardRow)] == ["det-quiet"]
    assert len(await outbox(db_engine, CASE_FILED)) == 1


# --- fusion ----------------------------------------------------------------------------

SOURCES = (("cam-1", "video_ai"), ("cam-2", "video_ai"), ("cam-3", "video_ai"), ("uav-1", "drone"))


def pothole_sightings(
    report: Report, near: Near, site: tuple[float, float], *, spacing_m: float, every: timedelta
) -> list[IncomingEvent]:
    """100 detections of a pothole from three cameras and a drone."""
    out = []
    for i in range(100):
        source, kind = SOURCES[i % 4]
        point = near(site, spacing_m * i if spacing_m else (i % 7) * 2.0, (i % 5) * 1.5)
        out.append(
            detected(
                report(
                    point,
                    f"det-{i:03d}",
                    code="E0105",
                    source_id=source,
                    kind=kind,
                    observed_at=T0 + every * i,
                    confidence=0.8 + (i % 10) / 100,
                )
            )
        )
    return out


async def deliver_in_batches(
    engine: AsyncEngine, ref: Reference, events: list[IncomingEvent], size: int = 16
) -> None:
    for start in range(0, len(events), size):
        await deliver(engine, *events[start : start + size], ref=ref)


async def test_one_pothole_seen_100_times_by_three_cameras_and_a_drone_is_one_case(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    sightings = pothole_sightings(
        detection_report, near, inside, spacing_m=0, every=timedelta(seconds=5)
    )
    await deliver_in_batches(db_engine, ref, sightings)
    [case] = await all_cases(db_engine)
    assert case.detection_count == 100 and len(case.detection_ids) == 100
    assert set(case.detection_ids) == {f"det-{i:03d}" for i in range(100)}
    assert len(case.evidence) == 100 and case.state == case_pb2.CASE_STATE_FILED
    # Each witness counts once, with its best score (0.88, 0.89, 0.88, 0.89):
    assert case.certainty == pytest.approx(1 - 0.12 * 0.11 * 0.12 * 0.11, abs=1e-6)
    assert len(await outbox(db_engine, CASE_FILED)) == 1
    corroborations = [
        events_pb2.CaseCorroborated.FromString(m.body)
        for m in await outbox(db_engine, CASE_CORROBORATED)
    ]
    assert len(corroborations) == 99
    assert [c.detection_count for c in corroborations] == list(range(2, 101))
    assert {c.case_id for c in corroborations} == {case.case_id}


async def test_the_same_outside_the_radius_opens_separate_cases(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    sightings = pothole_sightings(
        detection_report, near, inside, spacing_m=40, every=timedelta(seconds=5)
    )
    await deliver_in_batches(db_engine, ref, sightings)
    cases = await all_cases(db_engine)
    assert len(cases) == 100 and all(c.detection_count == 1 for c in cases)
    assert await outbox(db_engine, CASE_CORROBORATED) == []


async def test_the_same_outside_the_window_opens_separate_cases(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    window = ref.policy.fusion(ref.catalogue.get("E0105")).window
    sightings = pothole_sightings(
        detection_report, near, inside, spacing_m=0, every=window + timedelta(seconds=1)
    )
    await deliver_in_batches(db_engine, ref, sightings)
    assert len(await all_cases(db_engine)) == 100


async def test_corroboration_files_a_triage_case_and_a_weak_one_is_not_evidence(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(
        db_engine,
        detected(detection_report(inside, "d1", source_id="cam-1", confidence=0.6)),
        ref=ref,
    )
    [queued] = await all_cases(db_engine)
    assert queued.state == case_pb2.CASE_STATE_TRIAGE
    await deliver(
        db_engine,
        detected(detection_report(near(inside, 10), "d2", source_id="cam-1", confidence=0.65)),
        ref=ref,
    )
    await deliver(
        db_engine,
        detected(detection_report(near(inside, 5), "d3", source_id="cam-9", confidence=0.3)),
        ref=ref,
    )
    [still] = await all_cases(db_engine)
    assert (still.state, still.detection_count) == (case_pb2.CASE_STATE_TRIAGE, 2)
    assert len(await outbox(db_engine, DETECTION_DISCARDED)) == 1  # d3: below review
    await deliver(
        db_engine,
        detected(detection_report(near(inside, 3), "d4", source_id="cam-2", confidence=0.6)),
        ref=ref,
    )
    [filed] = await all_cases(db_engine)
    assert filed.state == case_pb2.CASE_STATE_FILED and filed.certainty == pytest.approx(0.86)
    [published] = await outbox(db_engine, CASE_FILED)
    event_case = events_pb2.CaseFiled.FromString(published.body).case
    assert list(event_case.detection_ids) == ["d1", "d2", "d4"]


async def test_a_cap_update_joins_the_case_of_the_alert_it_supersedes(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(db_engine, detected(detection_report(inside, "alert-1", code="E0105")), ref=ref)
    update = detection_report(near(inside, 900), "alert-2", code="E0105", supersedes="alert-1")
    await deliver(db_engine, detected(update), ref=ref)
    [case] = await all_cases(db_engine)
    assert list(case.detection_ids) == ["alert-1", "alert-2"]


async def test_a_component_fuses_on_its_id_wherever_it_is_reported(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(
        db_engine,
        detected(detection_report(inside, "s1", kind="iot", source_id="tilt-1", confidence=0)),
        detected(
            detection_report(near(inside, 200), "s2", kind="iot", source_id="tilt-1", confidence=0)
        ),
        detected(detection_report(near(inside, 300), "c1", component_id="cover-8")),
        detected(detection_report(near(inside, 900), "c2", component_id="cover-8")),
        ref=ref,
    )
    groups = sorted(sorted(c.detection_ids) for c in await all_cases(db_engine))
    assert groups == [["c1", "c2"], ["s1", "s2"]]


async def test_a_closed_case_is_not_joined_again(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    await deliver(db_engine, detected(detection_report(inside, "d1")), ref=ref)
    [case] = await all_cases(db_engine)
    closed = audit_events.CaseClosed(case_id=case.case_id, closed_at=stamp(T0))
    await deliver(db_engine, event(closed, CASE_CLOSED, "audit", case.case_id))
    assert await rows(db_engine, FusionEntryRow) == []
    await deliver(db_engine, detected(detection_report(inside, "d2")), ref=ref)
    assert len(await all_cases(db_engine)) == 2


# --- withdrawal -----------------------------------------------------------------------


def withdrawn(detection_id: str, *, cleared: bool = False) -> IncomingEvent:
    kind = (
        detection_events.WITHDRAWAL_KIND_CLEARED
        if cleared
        else detection_events.WITHDRAWAL_KIND_CANCELLED
    )
    message = detection_events.DetectionWithdrawn(
        detection_id=detection_id, reason="CAP Cancel", withdrawn_at=stamp(T0), kind=kind
    )
    return event(message, DETECTION_WITHDRAWN, "detection")


async def test_a_triage_case_whose_detections_are_cancelled_is_rejected_as_withdrawn(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(db_engine, detected(detection_report(inside, "d1", confidence=0.6)), ref=ref)
    await deliver(
        db_engine, detected(detection_report(near(inside, 5), "d2", confidence=0.55)), ref=ref
    )
    await deliver(db_engine, withdrawn("d1"), ref=ref)
    [case] = await all_cases(db_engine)
    assert case.state == case_pb2.CASE_STATE_TRIAGE and list(case.withdrawn_detection_ids) == ["d1"]
    assert case.certainty == 0.55
    await deliver(db_engine, withdrawn("d2"), ref=ref)
    await deliver(db_engine, withdrawn("d2"), ref=ref)  # again: nothing more
    [case] = await all_cases(db_engine)
    assert case.state == case_pb2.CASE_STATE_REJECTED
    assert case.reject_reason == case_pb2.REJECT_REASON_WITHDRAWN
    assert set(case.detection_ids) == {"d1", "d2"}  # still linked, for the record
    [published] = await outbox(db_engine, CASE_REJECTED)
    rejection = events_pb2.CaseRejected.FromString(published.body)
    assert rejection.previous_state == case_pb2.CASE_STATE_TRIAGE
    assert rejection.rejected_by.role == common_pb2.ACTOR_ROLE_SYSTEM


async def test_a_filed_case_keeps_going_and_a_cleared_alarm_keeps_its_triage_case(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    await deliver(
        db_engine,
        detected(detection_report(inside, "filed")),
        detected(detection_report(near(inside, 800), "queued", confidence=0.6)),
        ref=ref,
    )
    await deliver(db_engine, withdrawn("filed"), withdrawn("queued", cleared=True), ref=ref)
    states = {c.detection_ids[0]: c for c in await all_cases(db_engine)}
    assert states["filed"].state == case_pb2.CASE_STATE_FILED
    assert list(states["filed"].withdrawn_detection_ids) == ["filed"]
    assert states["queued"].state == case_pb2.CASE_STATE_TRIAGE
    assert await outbox(db_engine, CASE_REJECTED) == []


async def test_a_withdrawal_before_its_report_leaves_a_discard_not_a_case(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    await deliver(db_engine, withdrawn("early"), ref=ref)
    await deliver(db_engine, detected(detection_report(inside, "early")), ref=ref)
    assert await all_cases(db_engine) == []
    [discard] = await rows(db_engine, DiscardRow)
    assert (discard.detection_id, discard.reason) == ("early", "withdrawn")


async def test_one_batch_sees_its_own_new_cases_links_and_discards(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    near: Near,
) -> None:
    """The detection handler runs without autoflush; within one fetched batch a
    resend, a corroboration and a withdrawal still find what came before them."""
    await deliver(
        db_engine,
        detected(detection_report(inside, "b1", confidence=0.6)),
        detected(detection_report(inside, "b1", confidence=0.6)),  # resent, new event id
        detected(detection_report(near(inside, 4), "b2", confidence=0.6)),
        detected(detection_report(near(inside, 900), "low", confidence=0.1)),
        detected(detection_report(near(inside, 900), "low", confidence=0.1)),
        withdrawn("b1"),
        withdrawn("b2"),
        ref=ref,
    )
    [case] = await all_cases(db_engine)
    assert sorted(case.detection_ids) == ["b1", "b2"] and case.detection_count == 2
    assert case.state == case_pb2.CASE_STATE_REJECTED
    assert [r.detection_id for r in await rows(db_engine, DiscardRow)] == ["low"]


# --- progress --------------------------------------------------------------------------


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


@pytest.mark.parametrize("prepare", [True, False], ids=["preloaded", "one-by-one"])
async def test_progress_moves_the_case_and_an_unknown_case_is_ignored(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
    prepare: bool,
) -> None:
    await deliver(db_engine, detected(detection_report(inside)), ref=ref)
    [row] = await rows(db_engine, CaseRow)
    dispatched = dispatch_events.CaseDispatched(
        case_id=row.case_id, department_id="dept-water", dispatched_at=stamp(T0), deadline=stamp(T0)
    )
    unknown = dispatch_events.CaseDispatched()
    unknown.CopyFrom(dispatched)
    unknown.case_id = "case-nobody-knows"
    await deliver(
        db_engine,
        event(dispatched, CASE_DISPATCHED, "dispatch", row.case_id),
        event(unknown, CASE_DISPATCHED, "dispatch", unknown.case_id),
        prepare=prepare,
    )
    case = await queries.get_case(row.case_id, uow(db_engine))
    assert case.state is CaseState.DISPATCHED and case.lead_department_id == "dept-water"
    assert len(await rows(db_engine, CaseRow)) == 1
    assert case.reject_reason is None and RejectReason.WITHDRAWN.value == "withdrawn"


async def test_a_resumed_case_is_back_where_it_stood_before_backlog(
    db_engine: AsyncEngine,
    ref: Reference,
    inside: tuple[float, float],
    detection_report: Report,
) -> None:
    await deliver(db_engine, detected(detection_report(inside)), ref=ref)
    [row] = await rows(db_engine, CaseRow)
    case_id = row.case_id
    dispatched = dispatch_events.CaseDispatched(
        case_id=case_id, department_id="dept-water", dispatched_at=stamp(T0), deadline=stamp(T0)
    )
    backlogged = dispatch_events.CaseBacklogged(
        case_id=case_id, backlogged_at=stamp(T0 + timedelta(hours=2)), reason="产权不明"
    )
    accepted = workorder_events.WorkOrderAccepted(
        case_id=case_id, department_id="dept-water", accepted_at=stamp(T0 + timedelta(hours=1))
    )
    await deliver(
        db_engine,
        event(dispatched, CASE_DISPATCHED, "dispatch", case_id),
        event(backlogged, CASE_BACKLOGGED, "dispatch", case_id),
    )
    # The department's acceptance from before the 挂账 arrives late, on its own stream.
    await deliver(db_engine, event(accepted, WORKORDER_ACCEPTED, "workorders", case_id))
    case = await queries.get_case(case_id, uow(db_engine))
    assert case.state is CaseState.BACKLOGGED and case.state_before_backlog is CaseState.ACCEPTED

    new_deadline = T0 + timedelta(days=3)
    resumed = dispatch_events.CaseResumed(
        case_id=case_id,
        resumed_at=stamp(T0 + timedelta(days=1)),
        state="dispatched",
        moved=[
            dispatch_events.MovedDeadline(
                dispatch_id="DSP-1", department_id="dept-water", deadline=stamp(new_deadline)
            )
        ],
    )
    await deliver(db_engine, event(resumed, CASE_RESUMED, "dispatch", case_id))
    await deliver(db_engine, event(backlogged, CASE_BACKLOGGED, "dispatch", case_id))  # again
    case = await queries.get_case(case_id, uow(db_engine))
    assert case.state is CaseState.ACCEPTED and case.state_before_backlog is None
    assert case.state_at == T0 + timedelta(days=1) and case.deadline == new_deadline
    [proto] = await all_cases(db_engine)
    assert proto.state == case_pb2.CASE_STATE_ACCEPTED
