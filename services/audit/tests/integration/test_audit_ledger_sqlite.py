"""The ledger on a real SQLite file: appends chain, redeliveries do not append,
detections join their case's timeline, and tampering done with SQL is named."""

from __future__ import annotations

import asyncio
import io
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.message import Message
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.adapters.integration_events import EventTranslator
from audit.adapters.tables import LedgerEntryRow
from audit.domain.ledger import chain_entry
from audit.domain.model import EventFacts
from audit.entrypoints import cli, main
from audit.service_layer import handlers
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from svckit import db
from svckit.messaging import subjects
from svckit.messaging.envelope import IncomingEvent

translator = EventTranslator(lambda code: {"E0105": "道路破损"}.get(code, ""))


def event(n: int, message: Message, subject: str, case_id: str = "C-1") -> IncomingEvent:
    return IncomingEvent(
        id=f"evt-{n}",
        type=message.DESCRIPTOR.full_name,
        source="/cityops/test",
        subject=subject,
        case_id=case_id,
        time=datetime(2024, 5, 1, 8, n, tzinfo=UTC),
        message=message,
        headers={},
    )


def dispatched(n: int, case_id: str = "C-1") -> IncomingEvent:
    message = dispatch_events.CaseDispatched(case_id=case_id, department_id=f"D0{n}")
    return event(n, message, subjects.CASE_DISPATCHED, case_id)


async def record(engine: AsyncEngine, *events: IncomingEvent) -> None:
    async with AuditUnitOfWork(engine, "audit") as uow:
        for e in events:
            await handlers.record_event(e, uow, translator)
        await uow.commit()


async def sql(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def check(engine: AsyncEngine) -> tuple[bool, int, str]:
    result = await handlers.verify_ledger(AuditUnitOfWork(engine, "audit"))
    return result.ok, result.first_bad_sequence, result.problem


async def test_entries_chain_and_a_redelivered_event_is_not_appended_twice(
    sqlite_engine: AsyncEngine,
) -> None:
    await record(sqlite_engine, dispatched(1), dispatched(2))
    await record(sqlite_engine, dispatched(2), dispatched(3))  # evt-2 again, past the inbox
    async with AuditUnitOfWork(sqlite_engine, "audit") as uow:
        entries = await uow.ledger.all_entries()
    assert [(e.sequence, e.event_id) for e in entries] == [(1, "evt-1"), (2, "evt-2"), (3, "evt-3")]
    assert entries[1].previous_hash == entries[0].entry_hash
    assert entries[2].previous_hash == entries[1].entry_hash
    assert [e.summary for e in entries] == ["派遣至 D01", "派遣至 D02", "派遣至 D03"]
    assert entries[0].occurred_at == datetime(2024, 5, 1, 8, 1, tzinfo=UTC)
    assert await check(sqlite_engine) == (True, 0, "")


async def test_a_detection_joins_the_timeline_of_the_case_filed_from_it(
    sqlite_engine: AsyncEngine,
) -> None:
    detection = detection_events.DetectionReported(
        detection=detection_pb2.Detection(
            detection_id="det-1",
            category_code="E0105",
            source_kind=detection_pb2.SOURCE_KIND_CITIZEN,
        )
    )
    filed = intake_events.CaseFiled(
        case=case_pb2.Case(case_id="C-1", category_code="E0105", detection_ids=["det-1"])
    )
    await record(sqlite_engine, event(1, detection, subjects.DETECTION_REPORTED, case_id=""))
    await record(sqlite_engine, dispatched(2, case_id="C-2"))
    async with AuditUnitOfWork(sqlite_engine, "audit") as uow:
        assert await uow.ledger.timeline("C-1") == []
    await record(sqlite_engine, event(3, filed, subjects.CASE_FILED))
    async with AuditUnitOfWork(sqlite_engine, "audit") as uow:
        timeline = await uow.ledger.timeline("C-1")
        case = await uow.cases.get("C-1")
    assert [(e.sequence, e.case_id, e.summary) for e in timeline] == [
        (1, "", "发现 E0105 道路破损（市民）"),
        (3, "C-1", "立案 E0105 道路破损"),
    ]
    assert case is not None and case.status.value == "open"


@pytest.fixture
async def six(sqlite_engine: AsyncEngine) -> AsyncEngine:
    await record(sqlite_engine, *(dispatched(n) for n in range(1, 7)))
    assert await check(sqlite_engine) == (True, 0, "")
    return sqlite_engine


async def test_a_changed_byte_is_named(six: AsyncEngine) -> None:
    await sql(six, "UPDATE audit_ledger_entry SET summary = '派遣至 D09' WHERE sequence = 4")
    ok, bad, problem = await check(six)
    assert (ok, bad) == (False, 4) and "entry 4 changed" in problem


async def test_a_deleted_entry_is_named(six: AsyncEngine) -> None:
    await sql(six, "DELETE FROM audit_ledger_entry WHERE sequence = 3")
    ok, bad, problem = await check(six)
    assert (ok, bad) == (False, 3) and "entry 3 deleted" in problem


async def test_two_swapped_entries_are_named(six: AsyncEngine) -> None:
    await sql(
        six,
        "UPDATE audit_ledger_entry SET sequence = -3 WHERE sequence = 3",
        "UPDATE audit_ledger_entry SET sequence = 3 WHERE sequence = 4",
        "UPDATE audit_ledger_entry SET sequence = 4 WHERE sequence = -3",
    )
    ok, bad, problem = await check(six)
    assert (ok, bad) == (False, 3) and "entry 3 reordered" in problem


async def test_an_inserted_entry_is_named(six: AsyncEngine) -> None:
    async with AuditUnitOfWork(six, "audit") as uow:
        second = (await uow.ledger.all_entries())[1]
    forged = chain_entry(
        EventFacts(
            event_id="forged",
            event_type="cityops.audit.v1.CaseVerified",
            subject=subjects.CASE_VERIFIED,
            producer="audit",
            case_id="C-1",
            occurred_at=second.occurred_at,
            summary="核查通过",
            payload_sha256="0" * 64,
        ),
        sequence=3,
        previous_hash=second.entry_hash,
        recorded_at=second.recorded_at,
        trace_id="",
        span_id="",
    )
    await sql(
        six,
        "UPDATE audit_ledger_entry SET sequence = -(sequence + 1) WHERE sequence >= 3",
        "UPDATE audit_ledger_entry SET sequence = -sequence WHERE sequence < 0",
    )
    async with AuditUnitOfWork(six, "audit") as uow:
        uow.session.add(LedgerEntryRow(**asdict(forged)))
        await uow.commit()
    ok, bad, problem = await check(six)
    assert (ok, bad) == (False, 3) and "entry 3 inserted" in problem


async def test_the_cli_prints_the_result_and_exits_1_on_a_bad_ledger(
    six: AsyncEngine, sqlite_url: str
) -> None:
    url = sqlite_url  # the database `six` wrote
    out = io.StringIO()
    assert await cli.verify_ledger(url, out) == 0
    assert out.getvalue() == "ledger ok: 6 entries checked\n"
    await sql(six, "UPDATE audit_ledger_entry SET actor_user_id = 'mallory' WHERE sequence = 5")
    out = io.StringIO()
    assert await cli.verify_ledger(url, out) == 1
    assert out.getvalue().startswith(
        "ledger BAD at sequence 5 (5 entries checked): entry 5 changed"
    )


def test_python_m_audit_verify_ledger_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"

    async def prepare() -> None:
        engine = db.create_engine(url)
        await db.create_tables(engine)
        await record(engine, dispatched(1), dispatched(2))
        await sql(engine, "DELETE FROM audit_ledger_entry WHERE sequence = 1")
        await engine.dispose()

    asyncio.run(prepare())
    with pytest.raises(SystemExit) as exit_info:
        main.main(["verify-ledger", "--database-url", url])
    assert exit_info.value.code == 1
    assert "ledger BAD at sequence 1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main.main(
            ["verify-ledger", "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"]
        )
    assert exit_info.value.code == 2
    assert not (tmp_path / "none.db").exists()
