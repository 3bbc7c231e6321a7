"""Case rows on SQLite and PostgreSQL: `CaseRepository` keeps what a
transaction saves (cases, disposers, verifications) and writes it at commit,
so these pin down that the transaction itself still reads what it saved, that
a look's query sees a case that became awaiting verification in it, and that
nothing of a transaction left uncommitted reaches the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.adapters.tables import CaseRow, DisposerRow, VerificationRow
from audit.domain.model import (
    CasePlace,
    CaseRecord,
    CaseStatus,
    FreshLook,
    Party,
    Verification,
)
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit import db
from svckit.testing.statements import listening

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
HERE = CasePlace("E0101", 31.2304, 121.4737, "D-310101")
WORKER = Party("u-d01", "D01-city_management")
INSPECTOR = Party("u-insp", "D09-supervision", "inspector")


def awaiting(case_id: str = "C-1") -> CaseRecord:
    """A filed case whose work is reported done, by one disposer."""
    return CaseRecord(
        case_id=case_id,
        status=CaseStatus.AWAITING_VERIFICATION,
        origin_traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        origin_from_filing=True,
        disposers=[WORKER],
        place=HERE,
        completed_at=T0,
    )


def look_here(detection_id: str = "det-9") -> FreshLook:
    """A look from another source, 暴露垃圾 at the case's place."""
    return FreshLook(
        detection_id=detection_id,
        at=T0,
        source_id="cam-99",
        category_code=HERE.category_code,
        latitude=HERE.latitude,
        longitude=HERE.longitude,
        confidence=0.9,
    )


def verification(case_id: str = "C-1") -> Verification:
    return Verification(
        verification_id="ver-1",
        case_id=case_id,
        verifier=INSPECTOR,
        passed=True,
        note="看过了",
        verified_at=T0,
    )


async def stored_counts(engine: AsyncEngine) -> tuple[int, int, int]:
    """Committed cases, disposers and verifications."""
    async with engine.connect() as conn:
        counts = []
        for table in (CaseRow, DisposerRow, VerificationRow):
            counted = select(func.count()).select_from(table)
            counts.append(int((await conn.execute(counted)).scalar_one()))
        return counts[0], counts[1], counts[2]


async def test_a_saved_case_is_read_back_in_its_transaction_before_it_is_written(
    db_engine: AsyncEngine,
) -> None:
    uow = AuditUnitOfWork(db_engine, "audit")
    async with uow:
        case = awaiting()
        await uow.cases.save(case)
        uow.cases.add_verification(verification())
        # Not in the table yet (the transaction's own connection reads it)...
        connection = await uow.session.connection()
        written = select(func.count()).select_from(CaseRow)
        assert (await connection.execute(written)).scalar_one() == 0
        # ...yet read back whole, disposers too.
        assert await uow.cases.get("C-1") == case
        await uow.commit()
    assert await stored_counts(db_engine) == (1, 1, 1)
    async with uow:
        assert await uow.cases.get("C-1") == case


async def test_a_changed_case_is_rewritten_whole_and_keeps_what_it_did_not_change(
    db_engine: AsyncEngine,
) -> None:
    uow = AuditUnitOfWork(db_engine, "audit")
    async with uow:
        await uow.cases.save(awaiting())
        await uow.commit()
    async with uow:
        await uow.cases.preload(["C-1", "C-2"])
        case = await uow.cases.get("C-1")
        assert case is not None
        case.status = CaseStatus.CLOSED
        case.closed_by = INSPECTOR
        case.reason_code = "FIXED"
        case.closed_at = T0
        case.place = None  # an event that names no place leaves the stored one
        case.disposers.append(Party("u-d02", "D02-water"))
        await uow.cases.save(case)
        await uow.cases.save(case)  # a second save in the batch adds no disposer twice
        await uow.commit()
    async with uow:
        again = await uow.cases.get("C-1")
    assert again is not None
    assert (again.status, again.closed_by, again.reason_code, again.closed_at) == (
        CaseStatus.CLOSED,
        INSPECTOR,
        "FIXED",
        T0,
    )
    assert again.place == HERE
    assert again.disposers == [WORKER, Party("u-d02", "D02-water")]
    assert await stored_counts(db_engine) == (1, 2, 0)


async def test_a_look_sees_a_case_that_became_awaiting_earlier_in_its_transaction(
    db_engine: AsyncEngine,
) -> None:
    uow = AuditUnitOfWork(db_engine, "audit")
    async with uow:
        await uow.cases.save(CaseRecord(case_id="C-1", place=HERE))  # filed: open
        await uow.cases.save(CaseRecord(case_id="C-2", place=HERE))
        await uow.commit()
    async with uow:
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == []
        case = await uow.cases.get("C-1")
        assert case is not None
        case.status = CaseStatus.AWAITING_VERIFICATION
        await uow.cases.save(case)
        await uow.cases.save(awaiting("C-3"))  # new in this transaction
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == ["C-1", "C-3"]
        # A transaction's work does not stop at a look: written or not, its
        # later saves reach the tables at commit.
        case.status = CaseStatus.VERIFIED
        await uow.cases.save(case)
        await uow.commit()
    async with uow:
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == ["C-3"]
        assert (found := await uow.cases.get("C-1")) is not None
        assert found.status is CaseStatus.VERIFIED


async def test_a_look_does_not_see_a_case_whose_unwritten_save_left_awaiting(
    db_engine: AsyncEngine,
) -> None:
    """Stored as awaiting, closed earlier in the transaction: the stored row
    still matches the query, the case must not."""
    uow = AuditUnitOfWork(db_engine, "audit")
    async with uow:
        await uow.cases.save(awaiting("C-1"))
        await uow.cases.save(awaiting("C-2"))
        await uow.commit()
    async with uow:
        case = await uow.cases.get("C-1")
        assert case is not None
        case.status = CaseStatus.CLOSED
        await uow.cases.save(case)
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == ["C-2"]
        await uow.commit()
    async with uow:
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == ["C-2"]


async def test_a_transaction_left_without_commit_writes_nothing(db_engine: AsyncEngine) -> None:
    uow = AuditUnitOfWork(db_engine, "audit")
    async with uow:
        await uow.cases.save(awaiting("C-1"))
        await uow.commit()
    async with uow:
        case = await uow.cases.get("C-1")
        assert case is not None
        case.status = CaseStatus.VERIFIED
        case.disposers.append(Party("u-d02", "D02-water"))
        await uow.cases.save(case)
        await uow.cases.save(awaiting("C-2"))
        uow.cases.add_verification(verification())
        # A look writes the saved cases (one awaits verification) inside the
        # transaction; they still go with it.
        assert await uow.cases.awaiting_verification(look_here(), 30.0) == ["C-2"]
    assert await stored_counts(db_engine) == (1, 1, 0)
    async with uow:
        assert await uow.cases.get("C-2") is None
        again = await uow.cases.get("C-1")
    assert again == awaiting("C-1")


async def test_a_same_source_look_is_answered_through_an_index_per_identity(
    tmp_path: Path,
) -> None:
    """Every identity a look carries (source, device, component, detection)
    has an index, so SQLite answers the same-source query with one index
    search per identity. Without the device's and component's, it walked
    every case awaiting verification and its links for each such look: a
    query whose cost grows with the backlog. (SQLite only: PostgreSQL's
    planner prefers scanning a small table whatever its indexes.)"""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    executed: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if "audit_detection_case" in statement:
            executed.append((statement, parameters))

    try:
        await db.create_tables(engine)
        look = FreshLook(
            detection_id="det-1",
            at=T0,
            source_id="gw-1",
            device_id="dev-7",
            component_id="pipe-3",
            category_code="E0501",
        )
        with listening(engine, before_cursor_execute=record):
            async with AuditUnitOfWork(engine, "audit") as uow:
                assert await uow.cases.awaiting_verification(look) == []
        ((statement, parameters),) = executed
        async with engine.connect() as connection:
            explained = await connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters
            )
            plan = [str(row[3]) for row in explained]
    finally:
        await engine.dispose()
    detection_searches = [step for step in plan if step.startswith("SEARCH audit_detection ")]
    assert "MULTI-INDEX OR" in plan, plan
    assert len(detection_searches) == 4, plan
    assert not any(step.startswith("SCAN") for step in plan), plan
    assert not any("ix_audit_case_status" in step for step in plan), plan
