"""The work-order rules: every transition, the authorization matrix, feedback checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from svckit.grpc.identity import Caller
from workorders.domain import rules
from workorders.domain.model import Dispatch, Evidence, OrderState, Place, WorkOrder

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SHA = "ab" * 32
OWN = Caller("u-water-1", "department_user", "water")
OTHER_DEPT = Caller("u-roads-1", "department_user", "roads")
OVERSEERS = [Caller(f"u-{r}", r) for r in ("operator", "supervisor", "auditor", "admin")]
NO_READ = [Caller("u-inspector", "inspector"), Caller("svc", "system")]


def order(state: OrderState = OrderState.CREATED) -> WorkOrder:
    dispatch = Dispatch(
        dispatch_id="D-1",
        case_id="C-1",
        department_id="water",
        category_code="E0105",
        title="Burst main",
        place=Place(31.2, 121.5, "310101", "310101001", "G-7"),
        deadline=NOW + timedelta(days=2),
        case_traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )
    made = WorkOrder.from_dispatch(dispatch, order_id="WO-1", now=NOW)
    made.state = state
    return made


def test_a_dispatch_becomes_a_created_order_with_its_fields() -> None:
    made = order()
    assert made.state is OrderState.CREATED
    assert (made.case_id, made.department_id, made.title) == ("C-1", "water", "Burst main")
    assert made.deadline == NOW + timedelta(days=2)
    assert made.case_traceparent.startswith("00-111")


def test_a_dispatch_without_department_is_refused() -> None:
    bad = Dispatch("D-2", "C-2", "", "E0105", "t", None, None)
    with pytest.raises(InvalidArgumentError, match="department_id"):
        WorkOrder.from_dispatch(bad, order_id="WO-2", now=NOW)


LEGAL = {
    (OrderState.CREATED, OrderState.ACCEPTED),
    (OrderState.ACCEPTED, OrderState.COMPLETED),
}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transitions(current: OrderState, target: OrderState) -> None:
    assert rules.transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in product(OrderState, OrderState) if pair not in LEGAL],
)
def test_illegal_transitions_name_the_states(current: OrderState, target: OrderState) -> None:
    with pytest.raises(FailedPreconditionError) as info:
        rules.transition(current, target)
    assert str(current) in str(info.value) and str(target) in str(info.value)


def test_accept_then_complete_records_who_and_when() -> None:
    made = order()
    made.accept(OWN, NOW)
    assert (made.state, made.accepted_by, made.accepted_at) == (
        OrderState.ACCEPTED,
        OWN.user_id,
        NOW,
    )
    later = NOW + timedelta(hours=5)
    made.complete(
        OWN, later, note="  valve replaced ", evidence=(Evidence("s3://e/1.jpg", SHA.upper()),)
    )
    assert made.state is OrderState.COMPLETED
    assert (made.completed_by, made.completed_at, made.completion_note) == (
        OWN.user_id,
        later,
        "valve replaced",
    )
    assert made.evidence == (Evidence("s3://e/1.jpg", SHA),)  # hash normalised to lower case


@pytest.mark.parametrize("state", [OrderState.ACCEPTED, OrderState.COMPLETED])
def test_accept_outside_created_is_a_failed_precondition(state: OrderState) -> None:
    made = order(state)
    with pytest.raises(FailedPreconditionError, match=str(state)):
        made.accept(OWN, NOW)
    assert made.state is state and made.accepted_at is None


@pytest.mark.parametrize("state", [OrderState.CREATED, OrderState.COMPLETED])
def test_complete_outside_accepted_is_a_failed_precondition(state: OrderState) -> None:
    made = order(state)
    with pytest.raises(FailedPreconditionError, match=str(state)):
        made.complete(OWN, NOW, note="done", evidence=())
    assert made.state is state and made.completed_at is None


@pytest.mark.parametrize(
    ("note", "evidence", "message"),
    [
        ("", (), "note is required"),
        ("   ", (), "note is required"),
        ("x" * (rules.MAX_NOTE_CHARS + 1), (), "exceeds"),
        ("done", (Evidence("s3://e/1.jpg", "abc"),), "64 hex"),
        ("done", (Evidence("s3://e/1.jpg", "g" * 64),), "64 hex"),
        ("done", (Evidence("", SHA),), "uri"),
        ("done", (Evidence("s3://e/1.jpg", SHA, size_bytes=-1),), "negative"),
    ],
)
def test_feedback_must_carry_a_note_and_hashed_evidence(
    note: str, evidence: tuple[Evidence, ...], message: str
) -> None:
    made = order(OrderState.ACCEPTED)
    with pytest.raises(InvalidArgumentError, match=message):
        made.complete(OWN, NOW, note=note, evidence=evidence)
    assert made.state is OrderState.ACCEPTED


# --- authorization matrix -------------------------------------------------


def test_read_scope_per_role() -> None:
    assert rules.read_scope(OWN) == "water"
    assert rules.read_scope(OTHER_DEPT) == "roads"
    for caller in OVERSEERS:
        assert rules.read_scope(caller) is None
    for caller in NO_READ:
        with pytest.raises(PermissionDeniedError):
            rules.read_scope(caller)


def test_who_may_read_one_order() -> None:
    rules.ensure_visible(OWN, "WO-1", "water")
    for caller in OVERSEERS:
        rules.ensure_visible(caller, "WO-1", "water")
    with pytest.raises(NotFoundError, match="WO-1"):
        rules.ensure_visible(OTHER_DEPT, "WO-1", "water")
    for caller in NO_READ:
        with pytest.raises(PermissionDeniedError):
            rules.ensure_visible(caller, "WO-1", "water")


@pytest.mark.parametrize("caller", [OTHER_DEPT, *OVERSEERS, *NO_READ], ids=lambda c: c.user_id)
def test_only_the_owning_department_accepts_and_completes(caller: Caller) -> None:
    created = order()
    with pytest.raises(PermissionDeniedError):
        created.accept(caller, NOW)
    assert created.state is OrderState.CREATED and created.accepted_by == ""
    accepted = order(OrderState.ACCEPTED)
    with pytest.raises(PermissionDeniedError):
        accepted.complete(caller, NOW, note="done", evidence=())
    assert accepted.state is OrderState.ACCEPTED and accepted.completed_by == ""


def test_authorization_is_checked_before_the_state() -> None:
    """Another department learns nothing about the order's state from the error."""
    with pytest.raises(PermissionDeniedError):
        order(OrderState.COMPLETED).accept(OTHER_DEPT, NOW)


@pytest.mark.parametrize(("requested", "expected"), [(0, 50), (1, 1), (500, 500), (10_000, 500)])
def test_page_size_is_bounded(requested: int, expected: int) -> None:
    assert rules.page_size(requested) == expected


def test_negative_page_size_and_blank_request_id_are_invalid() -> None:
    with pytest.raises(InvalidArgumentError):
        rules.page_size(-1)
    with pytest.raises(InvalidArgumentError, match="request_id"):
        rules.require_request_id(" ")
