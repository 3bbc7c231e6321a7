"""Tree heads on a timer, read snapshots, and the offline dossier command."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import pytest

from audit.adapters.signing import Ed25519Signer
from audit.domain import merkle
from audit.entrypoints import cli, main
from audit.entrypoints.tree_head_timer import TreeHeadTimer
from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events

Recorder = Any  # conftest.Recorder


def dispatched(case_id: str = "C-1") -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(case_id=case_id, department_id="D01-water")


async def heads(recorder: Recorder) -> list[int]:
    async with recorder.uow().snapshot() as view:
        return [h.tree_size for h in await view.ledger.tree_heads(0, 100)]


async def test_the_timer_signs_only_when_the_ledger_grew(
    recorder: Recorder, signer: Ed25519Signer
) -> None:
    timer = TreeHeadTimer(recorder.uow, signer, every_seconds=3600)
    await timer.tick()
    assert await heads(recorder) == []  # an empty ledger has nothing to sign
    await recorder.record(dispatched(), dispatched())
    await timer.tick()
    await timer.tick()
    assert await heads(recorder) == [2]
    await timer.start()
    await recorder.record(dispatched())
    await timer.stop()  # a clean stop signs what arrived since
    assert await heads(recorder) == [2, 3]
    assert (await recorder.check()).tree_heads_checked == 2


async def test_a_snapshot_does_not_see_appends_made_while_it_reads(recorder: Recorder) -> None:
    await recorder.record(dispatched(), dispatched())
    async with recorder.uow().snapshot() as view:
        before = await view.ledger.last_sequence()
        await recorder.record(dispatched())  # the appender is not blocked by the reader
        assert await view.ledger.last_sequence() == before == 2
        tip = await view.ledger.stored_tip()
        assert tip is not None and tip.size == 2
    async with recorder.uow().snapshot() as view:
        assert await view.ledger.last_sequence() == 3


async def case_with_evidence(recorder: Recorder) -> None:
    evidence = common_pb2.EvidenceRef(uri="https://e.example/1.jpg", sha256="cd" * 32)
    await recorder.record(
        intake_events.CaseFiled(
            case=case_pb2.Case(case_id="C-1", category_code="E0101", title="<b>垃圾</b>")
        ),
        dispatched(),
        dispatched("C-2"),
        dispatched("C-3"),  # a head is signed at 4
        workorder_events.WorkOrderCompleted(case_id="C-1", evidence=[evidence]),
    )


async def test_the_offline_dossier_proves_what_a_head_covers_and_marks_the_rest(
    recorder: Recorder,
) -> None:
    await case_with_evidence(recorder)
    out = io.BytesIO()
    assert await cli.dossier(recorder.url, "C-1", "json", recorder.ctx.trusted, out) == 0
    doc = json.loads(out.getvalue())
    assert doc["tree_head"]["tree_size"] == 4  # read-only: no new head is signed
    paths = {e["sequence"]: e["audit_path"] for e in doc["entries"]}
    assert set(paths) == {1, 2, 5} and paths[5] is None
    root = bytes.fromhex(doc["tree_head"]["root_hash"])
    for sequence in (1, 2):
        entry = next(e for e in doc["entries"] if e["sequence"] == sequence)
        hashes = [bytes.fromhex(h) for h in entry["audit_path"]]
        ranges = merkle.inclusion_ranges(sequence - 1, 4)
        assert len(hashes) == len(ranges) == 2
        leaf = merkle.leaf_hash(entry["leaf"].encode())
        sibling, other = hashes
        pair = merkle.node_hash(leaf, sibling) if sequence == 1 else merkle.node_hash(sibling, leaf)
        assert merkle.node_hash(pair, other) == root
    assert doc["evidence"][0]["sha256"] == "cd" * 32
    assert (
        doc["tree_head"]["public_key"] == base64.b64encode(recorder.ctx.signer.public_key).decode()
    )
    missing = io.BytesIO()
    assert await cli.dossier(recorder.url, "C-404", "json", recorder.ctx.trusted, missing) == 2


@pytest.mark.usefixtures("restore_logging")
async def test_python_m_audit_dossier_prints_escaped_html(
    recorder: Recorder, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    await case_with_evidence(recorder)
    capsysbinary.readouterr()
    key = base64.b64encode(recorder.ctx.signer.public_key).decode()
    args = [
        "dossier",
        "C-1",
        "--format",
        "html",
        "--database-url",
        recorder.url,
        "--public-key",
        key,
    ]
    with pytest.raises(SystemExit) as exit_info:
        await asyncio.to_thread(main.main, args)
    assert exit_info.value.code == 0
    page = capsysbinary.readouterr().out.decode()
    assert page.startswith("<!DOCTYPE html>") and "案卷 C-1" in page
    assert "&lt;b&gt;垃圾&lt;/b&gt;" in page and "<b>垃圾" not in page
    assert "尚未被签名树头覆盖" in page and "cd" * 32 in page
