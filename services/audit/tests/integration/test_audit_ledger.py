"""The ledger on SQLite and PostgreSQL: appends build the chain and the Merkle
tree, redeliveries do not append, tree heads are signed every N entries, and
tampering done directly in the database is caught and named."""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from audit.adapters.signing import Ed25519Signer
from audit.adapters.tables import LedgerEntryRow, LedgerTipRow, MerkleNodeRow
from audit.domain import ledger as ledger_rules
from audit.domain import merkle
from audit.domain.hashing import canonical_json
from audit.domain.ledger import LedgerTip, chain_entry
from audit.domain.model import EventFacts
from audit.entrypoints import cli, main
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import events_pb2 as detection_events
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from svckit.messaging import subjects
from svckit.messaging.envelope import IncomingEvent
from svckit.testing.statements import listening

Recorder = Any  # conftest.Recorder


def dispatched(n: int, case_id: str = "C-1") -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(case_id=case_id, department_id=f"D0{n}")


async def test_entries_chain_and_a_redelivered_event_is_not_appended_twice(
    recorder: Recorder,
) -> None:
    first, second, third = (recorder.event(dispatched(n)) for n in (1, 2, 3))
    await recorder.record(first, second)
    await recorder.record(second, third)  # evt-2 again, past the inbox
    entries = await recorder.entries()
    assert [(e.sequence, e.event_id) for e in entries] == [(1, "evt-1"), (2, "evt-2"), (3, "evt-3")]
    assert entries[1].previous_hash == entries[0].entry_hash
    assert [e.summary for e in entries] == ["派遣至 D01", "派遣至 D02", "派遣至 D03"]
    # The stored body is the event's; the leaf is SHA-256(0x00 || canonical entry).
    assert entries[0].payload == dispatched(1).SerializeToString()
    assert entries[0].leaf_hash == merkle.leaf_hash(canonical_json(entries[0])).hex()
    check = await recorder.check()
    assert (check.ok, check.entries_checked, check.tree_size) == (True, 3, 3)
    assert check.root_hash == merkle.fold(
        [
            merkle.node_hash(*(bytes.fromhex(e.leaf_hash) for e in entries[:2])),
            bytes.fromhex(entries[2].leaf_hash),
        ]
    )


async def test_the_tip_is_written_once_per_appending_batch_and_not_when_nothing_moved(
    recorder: Recorder,
) -> None:
    """The appender's tip is read once per transaction and written back only
    when appends moved it: a batch of events is one write of the tip, a
    batch of events already in the ledger none."""
    first, second = recorder.event(dispatched(1)), recorder.event(dispatched(2))
    await recorder.record(first)  # the tip's row exists from here on
    statements: list[str] = []

    def record(*args: Any) -> None:
        if LedgerTipRow.__tablename__ in args[2] and args[2].startswith(("INSERT", "UPDATE")):
            statements.append(args[2].split()[0])

    with listening(recorder.engine, before_cursor_execute=record):
        await recorder.record(second, recorder.event(dispatched(3)))
        assert statements == ["UPDATE"]
        await recorder.record(first, second)  # nothing new: the tip stays as stored
        assert statements == ["UPDATE"]
    entries = await recorder.entries()
    assert [e.event_id for e in entries] == ["evt-1", "evt-2", "evt-3"]
    assert (await recorder.check()).ok


async def test_an_event_is_appended_once_with_or_without_a_preloaded_batch(
    recorder: Recorder,
) -> None:
    """The worker preloads a batch (`prepare_batch`) but records a lone retried
    message without it: both paths must see what the ledger already has."""
    first, second, third = (recorder.event(dispatched(n)) for n in (1, 2, 3))
    await recorder.record(first, prepare=False)
    await recorder.record(first, second, prepare=True)  # evt-1 is found by the preload
    await recorder.record(second, third, prepare=False)  # evt-2 is found by its own query
    await recorder.record(third, third, prepare=True)  # twice in one batch: appended once
    entries = await recorder.entries()
    assert [e.event_id for e in entries] == ["evt-1", "evt-2", "evt-3"]
    assert (await recorder.check()).ok


async def test_a_tree_head_is_signed_every_n_entries_and_the_tip_never_recomputes(
    recorder: Recorder, signer: Ed25519Signer
) -> None:
    await recorder.record(*(dispatched(n) for n in range(1, 10)))  # every 4: heads at 4 and 8
    async with recorder.uow().snapshot() as view:
        heads = await view.ledger.tree_heads(0, 10)
        tip = await view.ledger.stored_tip()
        stored_nodes = await view.ledger.node_count()
    assert [h.tree_size for h in heads] == [4, 8]
    assert all(h.key_id == signer.key_id for h in heads)
    assert tip is not None and (tip.size, tip.signed_size) == (9, 8)
    assert len(tip.frontier) == 2  # 9 = 8 + 1: two perfect subtrees
    assert stored_nodes == merkle.interior_node_count(9) == 7
    check = await recorder.check()
    assert (check.ok, check.tree_heads_checked, check.root_hash) == (True, 2, tip.root)


async def test_a_detection_joins_the_timeline_of_the_case_filed_from_it(
    recorder: Recorder,
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
    await recorder.record(recorder.event(detection, case_id=""))
    await recorder.record(dispatched(2, case_id="C-2"))
    async with recorder.uow().snapshot() as view:
        assert await view.ledger.timeline("C-1") == []
    await recorder.record(recorder.event(filed, case_id="C-1"))
    async with recorder.uow() as uow:
        timeline = await uow.ledger.timeline("C-1")
        case = await uow.cases.get("C-1")
    assert [(e.sequence, e.case_id, e.summary) for e in timeline] == [
        (1, "", "发现 E0105 道路破损（市民）"),
        (3, "C-1", "立案 E0105 道路破损"),
    ]
    assert case is not None and case.status.value == "open"


@pytest.mark.parametrize("prepare", [True, False], ids=["preloaded", "one-by-one"])
async def test_a_detection_stays_on_the_first_case_filed_from_it(
    recorder: Recorder, prepare: bool
) -> None:
    """The batch preload reads which detections are linked already; without it
    each look-up is its own. Either way the first filing wins, across batches
    and within one."""

    def filed(case_id: str, *detection_ids: str) -> IncomingEvent:
        case = case_pb2.Case(case_id=case_id, category_code="E0105", detection_ids=detection_ids)
        return recorder.event(intake_events.CaseFiled(case=case), case_id=case_id)

    await recorder.record(filed("C-1", "det-1"))
    await recorder.record(
        filed("C-2", "det-1", "det-2"), filed("C-3", "det-2", "det-3"), prepare=prepare
    )
    reports = [
        recorder.event(
            detection_events.DetectionReported(
                detection=detection_pb2.Detection(detection_id=d, category_code="E0105")
            ),
            case_id="",
        )
        for d in ("det-1", "det-2")
    ]
    await recorder.record(*reports)
    async with recorder.uow().snapshot() as view:
        sizes = {c: len(await view.ledger.timeline(c)) for c in ("C-1", "C-2", "C-3")}
    # Each case's own filing, plus the reports of the detections it was first to name.
    assert sizes == {"C-1": 2, "C-2": 2, "C-3": 1}


@pytest.fixture
async def six(recorder: Recorder) -> Recorder:
    """Six entries; a tree head was signed at 4."""
    await recorder.record(*(dispatched(n) for n in range(1, 7)))
    check = await recorder.check()
    assert (check.ok, check.entries_checked, check.tree_heads_checked) == (True, 6, 1)
    return recorder


async def failure(recorder: Recorder) -> tuple[int, str]:
    check = await recorder.check()
    assert not check.ok
    return check.first_bad_sequence, check.problem


async def test_a_changed_byte_in_a_field_is_named(six: Recorder) -> None:
    await six.sql("UPDATE audit_ledger_entry SET summary = '派遣至 D09' WHERE sequence = 4")
    bad, problem = await failure(six)
    assert bad == 4 and "entry 4 changed" in problem


async def test_a_changed_byte_in_a_stored_event_body_is_named(six: Recorder) -> None:
    body = bytearray((await six.entries())[1].payload)
    body[-1] ^= 0x01
    await six.sql("UPDATE audit_ledger_entry SET payload = :p WHERE sequence = 2", p=bytes(body))
    bad, problem = await failure(six)
    assert bad == 2 and "entry 2 changed: its stored event body no longer matches" in problem


async def test_a_deleted_entry_is_named(six: Recorder) -> None:
    await six.sql("DELETE FROM audit_ledger_entry WHERE sequence = 3")
    bad, problem = await failure(six)
    assert bad == 3 and "entry 3 deleted" in problem


async def test_two_swapped_entries_are_named(six: Recorder) -> None:
    await six.sql("UPDATE audit_ledger_entry SET sequence = -3 WHERE sequence = 3")
    await six.sql("UPDATE audit_ledger_entry SET sequence = 3 WHERE sequence = 4")
    await six.sql("UPDATE audit_ledger_entry SET sequence = 4 WHERE sequence = -3")
    bad, problem = await failure(six)
    assert bad == 3 and "entry 3 reordered" in problem


async def test_an_inserted_entry_is_named(six: Recorder) -> None:
    second = (await six.entries())[1]
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
    await six.sql("UPDATE audit_ledger_entry SET sequence = -(sequence + 1) WHERE sequence >= 3")
    await six.sql("UPDATE audit_ledger_entry SET sequence = -sequence WHERE sequence < 0")
    async with six.uow() as uow:
        uow.session.add(LedgerEntryRow(**asdict(forged)))
        await uow.commit()
    bad, problem = await failure(six)
    assert bad == 3 and "entry 3 inserted" in problem


async def test_entries_cut_off_the_end_are_caught_by_the_signed_head(six: Recorder) -> None:
    # The forger deletes entries 4..6 and fixes the appender's tip to match.
    entries = await six.entries()
    tip = LedgerTip()
    for entry in entries[:3]:
        tip.frontier, _ = merkle.append_leaf(tip.frontier, tip.size, bytes.fromhex(entry.leaf_hash))
        tip.size, tip.head_hash = entry.sequence, entry.entry_hash
    await six.sql("DELETE FROM audit_ledger_entry WHERE sequence >= 4")
    await six.sql(
        "UPDATE audit_ledger_tip SET size = 3, head_hash = :h, frontier = :f",
        h=tip.head_hash,
        f=b"".join(tip.frontier),
    )
    bad, problem = await failure(six)
    assert bad == 4 and "entries 4..4 deleted from the end: a tree head of size 4" in problem


async def test_the_last_entry_deleted_is_named_by_the_tip(six: Recorder) -> None:
    await six.sql("DELETE FROM audit_ledger_entry WHERE sequence = 6")
    bad, problem = await failure(six)
    assert bad == 6 and "entries 6..6 deleted from the end" in problem


async def test_a_rewrite_with_every_hash_recomputed_fails_on_the_signed_head(
    six: Recorder,
) -> None:
    """The forger knows the public hashing rules and rewrites entry 2, every
    hash after it, the tree and the tip; only the signature stops them."""
    entries = await six.entries()
    entries[1] = replace(entries[1], summary="派遣至 D99")
    tip, rows, nodes = LedgerTip(), [], []
    for e in entries:
        facts = EventFacts(
            event_id=e.event_id,
            event_type=e.event_type,
            subject=e.subject,
            producer=e.producer,
            case_id=e.case_id,
            occurred_at=e.occurred_at,
            summary=e.summary,
            payload_sha256=e.payload_sha256,
            department_id=e.department_id,
            payload=e.payload,
        )
        forged, new_nodes = ledger_rules.append(
            tip, facts, recorded_at=e.recorded_at, trace_id=e.trace_id, span_id=e.span_id
        )
        rows.append(LedgerEntryRow(**asdict(forged)))
        nodes += [MerkleNodeRow(level=n.ref.level, idx=n.ref.index, hash=n.hash) for n in new_nodes]
    await six.sql("DELETE FROM audit_ledger_entry")
    await six.sql("DELETE FROM audit_merkle_node")
    async with six.uow() as uow:
        uow.session.add_all([*rows, *nodes])
        row = await uow.session.get(LedgerTipRow, 1)
        assert row is not None
        row.head_hash, row.frontier = tip.head_hash, b"".join(tip.frontier)
        await uow.commit()
    bad, problem = await failure(six)
    assert bad == 1 and "tree head 4" in problem and "entries 1..4 was altered" in problem


async def test_a_forged_tree_head_signature_is_named(six: Recorder) -> None:
    await six.sql("UPDATE audit_tree_head SET signature = :s", s=bytes(64))
    bad, problem = await failure(six)
    assert bad == 1 and "tree head 4" in problem and "signature does not verify" in problem


async def test_a_tree_head_from_an_untrusted_key_is_named(six: Recorder) -> None:
    await six.sql("UPDATE audit_tree_head SET key_id = :k", k="ab" * 32)
    bad, problem = await failure(six)
    assert bad == 1 and "not trusted" in problem


async def test_an_altered_merkle_node_is_named(six: Recorder) -> None:
    await six.sql("UPDATE audit_merkle_node SET hash = :h WHERE level = 1 AND idx = 1", h=bytes(32))
    bad, problem = await failure(six)
    assert bad == 3 and "Merkle node (level 1, index 1) over entries 3..4" in problem


async def test_the_cli_prints_the_result_and_exits_1_on_a_bad_ledger(six: Recorder) -> None:
    out = io.StringIO()
    assert await cli.verify_ledger(six.url, six.ctx.trusted, out) == 0
    assert out.getvalue().startswith("ledger ok: 6 entries checked, 1 signed tree heads, root ")
    await six.sql("UPDATE audit_ledger_entry SET actor_user_id = 'mallory' WHERE sequence = 5")
    out = io.StringIO()
    assert await cli.verify_ledger(six.url, six.ctx.trusted, out) == 1
    assert out.getvalue().startswith(
        "ledger BAD at sequence 5 (5 entries checked): entry 5 changed"
    )


@pytest.mark.usefixtures("restore_logging")
async def test_python_m_audit_verify_ledger_exit_status(
    six: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str], signer: Ed25519Signer
) -> None:
    await six.sql("DELETE FROM audit_ledger_entry WHERE sequence = 1")
    key = base64.b64encode(signer.public_key).decode()
    with pytest.raises(SystemExit) as exit_info:
        # In a thread: `main` runs its own event loop, as `python -m audit` does.
        await asyncio.to_thread(
            main.main, ["verify-ledger", "--database-url", six.url, "--public-key", key]
        )
    assert exit_info.value.code == 1
    assert "ledger BAD at sequence 1" in capsys.readouterr().out
    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(SystemExit) as exit_info:
        await asyncio.to_thread(main.main, ["verify-ledger", "--database-url", missing])
    assert exit_info.value.code == 2
    assert not (tmp_path / "none.db").exists()
