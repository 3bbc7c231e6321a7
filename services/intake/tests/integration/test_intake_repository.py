"""The case repository and fusion index on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.adapters import tables  # noqa: F401  (registers the tables)
from intake.domain.commands import FileFromDetection
from intake.domain.fusion import FusionEntry, Sighting
from intake.domain.model import Case, CaseQuery, CaseState, Evidence, FilingSource, Place
from intake.domain.policy import FusionRule
from intake.service_layer.unit_of_work import IntakeUnitOfWork

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
RULE = FusionRule(radius_m=30, window=timedelta(minutes=10), match_component=True)


def a_case(n: int, state: CaseState = CaseState.FILED) -> Case:
    return Case(
        case_id=f"case-{n:03d}",
        category_code="C0101",
        title=f"case {n}",
        place=Place(31.2, 121.5, "D01", "D01S01", "D01S01G01"),
        urgency=2,
        state=state,
        filed_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n),
        source=FilingSource.DETECTION,
        trace_id="f" * 32,
        origin_traceparent=f"00-{'f' * 32}-{'a' * 16}-01",
    )


def detection(detection_id: str, evidence: str = "") -> FileFromDetection:
    return FileFromDetection(
        detection_id=detection_id,
        source_id="cam-1",
        category_code="C0101",
        place=None,
        urgency=2,
        observed_at=T0,
        idempotency_key=f"cam-1:{detection_id}",
        evidence=(Evidence(evidence, "ab" * 32, "image/jpeg", 10),) if evidence else (),
    )


async def store(engine: AsyncEngine, case: Case, *detections: str) -> None:
    async with IntakeUnitOfWork(engine, "intake") as uow:
        await uow.cases.add(case)
        for d in detections:
            uow.cases.link(detection(d, f"https://e/{d}.jpg"), case.case_id, 0.9, T0)
        await uow.commit()


async def test_a_case_round_trips_with_aware_times_its_detections_and_evidence(
    db_engine: AsyncEngine,
) -> None:
    case = a_case(1)
    case.deadline = T0 + timedelta(hours=4)
    case.source_scores, case.certainty, case.detection_count = {"cam-1": 0.9}, 0.9, 2
    case.assist_department_ids = ["dept-help"]
    await store(db_engine, case, "det-1-0", "det-1-1")
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        stored = await uow.cases.get(case.case_id)
        bare = await uow.cases.get(case.case_id, links=False)
        assert await uow.cases.case_for_detection("det-1-1") == case.case_id
        assert await uow.cases.case_for_detection("det-unknown") is None
        by_key = await uow.cases.find_link("", "cam-1:det-1-0")
        assert by_key is not None and by_key.detection_id == "det-1-0"
    assert stored is not None and bare is not None
    assert stored.detection_ids == ["det-1-0", "det-1-1"] and bare.detection_ids == []
    assert [e.uri for e in stored.evidence] == ["https://e/det-1-0.jpg", "https://e/det-1-1.jpg"]
    stored.detection_ids, stored.evidence = [], []
    assert stored == bare
    assert (bare.source_scores, bare.assist_department_ids) == ({"cam-1": 0.9}, ["dept-help"])
    assert bare.deadline is not None and bare.deadline.tzinfo is not None


async def test_a_detection_cannot_be_linked_to_two_cases(db_engine: AsyncEngine) -> None:
    await store(db_engine, a_case(1), "det-1-0")
    with pytest.raises(IntegrityError):
        await store(db_engine, a_case(2), "det-1-0")


async def test_update_writes_the_new_state_and_collections(db_engine: AsyncEngine) -> None:
    await store(db_engine, a_case(1), "d")
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        case = await uow.cases.get("case-001")
        assert case is not None
        case.state, case.lead_department_id = CaseState.DISPATCHED, "dept-water"
        case.state_at = T0 + timedelta(hours=1)
        case.source_scores["uav-1"] = 0.7
        case.released_department_ids.append("dept-old")
        await uow.cases.update(case)
        await uow.commit()
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        assert await uow.cases.get("case-001") == case


async def test_pages_are_newest_or_oldest_first_filtered_and_counted(
    db_engine: AsyncEngine,
) -> None:
    for n in range(1, 8):
        await store(
            db_engine,
            a_case(n, CaseState.CLOSED if n % 3 == 0 else CaseState.FILED),
            f"det-{n}",
        )
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        first = await uow.cases.page(CaseQuery(limit=3))
        last = await uow.cases.page(CaseQuery(offset=6, limit=3))
        closed = await uow.cases.page(CaseQuery(states=(CaseState.CLOSED,)))
        queue = await uow.cases.page(
            CaseQuery(states=(CaseState.FILED,), oldest_first=True, limit=2)
        )
        counts = await uow.cases.count_by_state()
    assert [c.case_id for c in first.cases] == ["case-007", "case-006", "case-005"]
    assert (first.total, first.next_offset) == (7, 3)
    assert [c.case_id for c in last.cases] == ["case-001"] and last.next_offset is None
    assert [c.case_id for c in closed.cases] == ["case-006", "case-003"] and closed.total == 2
    assert [c.case_id for c in queue.cases] == ["case-001", "case-002"] and queue.total == 5
    assert first.cases[0].detection_ids == ["det-7"]
    assert counts == {"filed": 5, "closed": 2}


async def test_the_fusion_index_finds_nearby_cells_and_components(
    db_engine: AsyncEngine,
) -> None:
    here = FusionEntry("case-001", "C0101", T0, T0, 31.2, 121.5, "")
    cover = FusionEntry("case-002", "C0101", T0, T0, None, None, "cover-1")
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        await uow.fusion.put(here)
        await uow.fusion.put(cover)
        await uow.commit()
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        near = await uow.fusion.candidates(Sighting("C0101", T0, 31.2001, 121.5001), RULE)
        far = await uow.fusion.candidates(Sighting("C0101", T0, 31.21, 121.5), RULE)
        other = await uow.fusion.candidates(Sighting("E0105", T0, 31.2, 121.5), RULE)
        by_cover = await uow.fusion.candidates(Sighting("C0101", T0, component_key="cover-1"), RULE)
        await uow.fusion.put(
            FusionEntry("case-001", "C0101", T0, T0 + timedelta(minutes=5), 31.2, 121.5)
        )
        await uow.fusion.forget("case-002")
        await uow.commit()
    assert [e.case_id for e in near] == ["case-001"] and far == [] and other == []
    assert by_cover == [cover]
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        moved = await uow.fusion.get("case-001")
        assert moved is not None and moved.last_observed_at == T0 + timedelta(minutes=5)
        assert await uow.fusion.get("case-002") is None


async def test_changes_wait_for_the_commit_and_reads_in_the_transaction_see_them(
    db_engine: AsyncEngine,
) -> None:
    await store(db_engine, a_case(1), "det-1")
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        await uow.cases.add(a_case(2))
        uow.cases.link(detection("det-2"), "case-002", 0.8, T0)
        stored = await uow.cases.get("case-001", links=False)
        assert stored is not None
        stored.state = CaseState.DISPATCHED
        await uow.cases.update(stored)
        new = await uow.cases.get("case-002", links=False)
        assert new is not None
        new.urgency = 4
        await uow.cases.update(new)
        # Read back from memory, and answered for the new link without a query.
        assert (await uow.cases.get("case-001", links=False)) == stored
        assert await uow.cases.case_for_detection("det-2") == "case-002"
        assert await uow.cases.outcome("det-2") == "case-002"
        # A query sees them: what waits is written first.
        counts = await uow.cases.count_by_state()
        assert counts == {"dispatched": 1, "filed": 1}
        whole = await uow.cases.get("case-002")
        assert whole is not None and whole.detection_ids == ["det-2"] and whole.urgency == 4
        await uow.commit()
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        assert await uow.cases.count_by_state() == {"dispatched": 1, "filed": 1}
        again = await uow.cases.get("case-002", links=False)
        assert again is not None and again.urgency == 4


async def test_a_transaction_left_without_commit_writes_nothing(db_engine: AsyncEngine) -> None:
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        await uow.cases.add(a_case(1))
        uow.cases.link(detection("det-1"), "case-001", 0.8, T0)
        uow.fusion.add(FusionEntry("case-001", "C0101", T0, T0, 31.2, 121.5))
        assert await uow.cases.count_by_state() == {"filed": 1}  # written, not committed
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        assert await uow.cases.get("case-001") is None
        assert await uow.cases.outcome("det-1") is None
        assert await uow.fusion.get("case-001") is None


async def test_the_fusion_index_answers_from_this_transactions_changes(
    db_engine: AsyncEngine,
) -> None:
    stored = FusionEntry("case-001", "C0101", T0, T0, 31.2, 121.5)
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        uow.fusion.add(stored)
        await uow.commit()
    near = Sighting("C0101", T0, 31.2001, 121.5001)
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        # Moved away in this transaction: the stored row no longer matches here.
        await uow.fusion.put(FusionEntry("case-001", "C0101", T0, T0, 31.3, 121.5))
        assert await uow.fusion.candidates(near, RULE) == []
        # A new case's entry, not yet written, is found; a forgotten one is not.
        fresh = FusionEntry("case-002", "C0101", T0, T0, 31.2, 121.5)
        uow.fusion.add(fresh)
        assert await uow.fusion.candidates(near, RULE) == [fresh]
        await uow.fusion.forget("case-002")
        assert await uow.fusion.candidates(near, RULE) == []
        assert await uow.fusion.get("case-002") is None
        await uow.commit()
    async with IntakeUnitOfWork(db_engine, "intake") as uow:
        moved = await uow.fusion.get("case-001")
        assert moved is not None and moved.latitude == 31.3
        assert await uow.fusion.get("case-002") is None
