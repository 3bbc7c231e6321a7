"""Issue 6's acceptance points on a real ledger (SQLite and PostgreSQL), beyond
the scenarios of test_audit_ledger: exactly one byte of any stored column changed;
proofs served from the stored tree, for every entry and every pair of signed
heads, checked by the test's own RFC 6962 verifier; 不予立案 / merged / 挂账
cases closed through the very handler a person's 结案 goes through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlmodel import select

from audit.domain import proofs
from audit.domain.commands import CloseCase
from audit.domain.hashing import canonical_json
from audit.domain.model import CaseStatus
from audit.service_layer import handlers, ledger
from cityops.audit.v1 import events_pb2 as audit_events
from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from services.audit.tests.unit.test_audit_merkle_proofs import (
    rfc_leaf,
    verify_consistency,
    verify_inclusion,
)
from svckit.errors import FailedPreconditionError, PermissionDeniedError
from svckit.grpc.identity import Caller
from svckit.tables import OutboxMessage

Recorder = Any  # conftest.Recorder
AUDITOR = Caller("u-aud", "auditor", "D80-audit")
OPERATOR = Caller("u-op", "operator", "D00-centre")

# Every stored column verification recomputes from, text or bytes.
ONE_BYTE_COLUMNS = [
    "case_id",
    "event_id",
    "event_type",
    "subject",
    "producer",
    "occurred_at",
    "recorded_at",
    "actor_user_id",
    "department_id",
    "summary",
    "trace_id",
    "span_id",
    "payload_sha256",
    "previous_hash",
    "entry_hash",
    "leaf_hash",
    "payload",
]


def dispatched(n: int) -> dispatch_events.CaseDispatched:
    return dispatch_events.CaseDispatched(case_id="C-1", department_id=f"D0{n}")


def accepted(n: int) -> workorder_events.WorkOrderAccepted:
    actor = common_pb2.Actor(user_id=f"u-{n}", department_id="D01-transport")
    return workorder_events.WorkOrderAccepted(
        order_id=f"wo-{n}", case_id="C-1", department_id="D01-transport", actor=actor
    )


def flip_last_byte(value: Any, *, keep_digits: bool) -> Any:
    """The same value with exactly one byte of its UTF-8 different, in the
    last character: a digit stays a digit when asked (a time must still read
    as a time), other ASCII moves far (not to a neighbouring entry's id)."""
    if isinstance(value, bytes):
        return value[:-1] + bytes([value[-1] ^ 0x01])
    if isinstance(value, datetime):  # PostgreSQL's timestamptz: flip its ISO text
        return datetime.fromisoformat(flip_last_byte(value.isoformat(), keep_digits=True))
    text = str(value)
    last = ord(text[-1])
    flip = 0x01 if keep_digits or last >= 0x80 else 0x40
    return text[:-1] + chr(last ^ flip)


@pytest.mark.parametrize("column", ONE_BYTE_COLUMNS)
async def test_one_byte_changed_in_any_column_names_the_entry(
    recorder: Recorder, column: str
) -> None:
    # In a consumer span, so the entries' trace and span ids are set too.
    with TracerProvider().get_tracer("test").start_as_current_span("consume"):
        await recorder.record(*(recorder.event(accepted(n)) for n in range(1, 7)))
    assert (await recorder.check()).ok
    async with recorder.engine.connect() as conn:
        raw = (
            await conn.exec_driver_sql(
                f"SELECT {column} FROM audit_ledger_entry WHERE sequence = 3"
            )
        ).scalar_one()
    assert raw not in ("", b"", None), f"{column} must hold something to change"
    await recorder.sql(
        f"UPDATE audit_ledger_entry SET {column} = :v WHERE sequence = 3",
        v=flip_last_byte(raw, keep_digits=column.endswith("_at")),
    )
    check = await recorder.check()
    assert not check.ok and check.first_bad_sequence == 3, check.problem
    assert "entry 3 " in check.problem


@pytest.mark.parametrize("column", ["occurred_at", "recorded_at"])
async def test_a_time_edited_into_garbage_names_the_entry_instead_of_crashing(
    sqlite_recorder: Recorder, column: str
) -> None:
    """SQLite only: PostgreSQL's timestamptz column refuses such an edit itself."""
    recorder = sqlite_recorder
    await recorder.record(*(recorder.event(accepted(n)) for n in range(1, 7)))
    await recorder.sql(
        f"UPDATE audit_ledger_entry SET {column} = :v WHERE sequence = 4", v="yesterday-ish"
    )
    check = await recorder.check()
    assert not check.ok and check.first_bad_sequence == 4, check.problem
    assert "unreadable" in check.problem


async def test_every_stored_proof_verifies_independently(recorder: Recorder) -> None:
    """23 entries (heads every 4): each entry against each head covering it,
    and every pair of heads, from what the store holds."""
    await recorder.record(*(recorder.event(dispatched(n % 9)) for n in range(1, 24)))
    async with recorder.uow().snapshot() as view:
        heads = await view.ledger.tree_heads(0, 100)
    sizes = [h.tree_size for h in heads]
    assert sizes == [4, 8, 12, 16, 20]
    roots = {h.tree_size: h.root_hash for h in heads}
    for size in sizes:
        for sequence in range(1, size + 1):
            proof = await ledger.inclusion_proof(
                recorder.uow(), recorder.ctx, AUDITOR, sequence=sequence, tree_size=size
            )
            leaf = rfc_leaf(canonical_json(proof.entry))
            assert leaf.hex() == proof.entry.leaf_hash
            assert verify_inclusion(leaf, sequence - 1, size, list(proof.audit_path), roots[size])
    for first in sizes:
        for second in sizes:
            if first > second:
                continue
            found = await ledger.consistency_proof(recorder.uow(), AUDITOR, first, second)
            assert isinstance(found, proofs.ConsistencyProof)
            assert verify_consistency(
                first, second, list(found.proof), roots[first], roots[second]
            ), (first, second)
            if first < second:
                assert not verify_consistency(
                    first, second, list(found.proof), roots[second], roots[first]
                )


@pytest.mark.parametrize(
    ("ending", "reason_code", "status"),
    [
        (intake_events.CaseRejected(case_id="C-9"), "REJECTED", CaseStatus.REJECTED),
        (intake_events.CaseMerged(case_id="C-9"), "MERGED", CaseStatus.MERGED),
        (dispatch_events.CaseBacklogged(case_id="C-9"), "BACKLOGGED", CaseStatus.BACKLOGGED),
    ],
)
async def test_cases_ended_without_disposal_close_through_close_case(
    recorder: Recorder, ending: Any, reason_code: str, status: CaseStatus
) -> None:
    await recorder.record(recorder.event(ending, case_id="C-9"))
    async with recorder.uow() as uow:
        case = await uow.cases.get("C-9")
    assert case is not None and case.status is status

    refused = [
        (CloseCase("c-1", "C-9", "RESOLVED"), OPERATOR, FailedPreconditionError),
        (CloseCase("c-2", "C-9", reason_code), AUDITOR, PermissionDeniedError),
    ]
    for command, caller, error in refused:
        with pytest.raises(error):
            await handlers.close_case(command, caller, recorder.uow())
    closed = await handlers.close_case(
        CloseCase("c-3", "C-9", reason_code), OPERATOR, recorder.uow()
    )
    again = await handlers.close_case(
        CloseCase("c-3", "C-9", reason_code), OPERATOR, recorder.uow()
    )
    assert closed.case_id == again.case_id == "C-9"

    async with recorder.uow() as uow:
        case = await uow.cases.get("C-9")
        sent = [
            (m.event_type, m.body) for m in (await uow.session.exec(select(OutboxMessage))).all()
        ]
    assert case is not None and (case.status, case.reason_code) == (CaseStatus.CLOSED, reason_code)
    assert [event_type for event_type, _ in sent] == ["cityops.audit.v1.CaseClosed"]
    event = audit_events.CaseClosed.FromString(sent[0][1])
    assert (event.case_id, event.reason_code, event.machine_verified) == (
        "C-9",
        reason_code,
        False,
    )
