"""State transition rules: forward only, final states stay, the rework loop by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.domain.model import Case, CaseState, FilingSource, Place, Progress
from intake.domain.rules import MAX_PAGE_SIZE, apply_progress, page_query
from svckit.errors import InvalidArgumentError

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
S = CaseState


def new_case(state: CaseState = S.FILED) -> Case:
    return Case(
        case_id="case-1",
        category_code="C0101",
        title="上水井盖 · 东湖区",
        place=Place(31.2, 121.5, "D01"),
        urgency=2,
        state=state,
        filed_at=T0,
        updated_at=T0,
        source=FilingSource.DETECTION,
    )


def at(minutes: int, target: CaseState, department: str = "") -> Progress:
    return Progress("case-1", target, T0 + timedelta(minutes=minutes), department_id=department)


def run(case: Case, *events: Progress) -> Case:
    for event in events:
        apply_progress(case, event, NOW)
    return case


def test_the_closed_loop_in_order_ends_closed() -> None:
    case = new_case()
    steps = [S.DISPATCHED, S.ACCEPTED, S.COMPLETED, S.VERIFIED, S.CLOSED]
    for minute, target in enumerate(steps, start=1):
        assert apply_progress(case, at(minute, target, "dept-water"), NOW)
        assert case.state is target
    assert case.updated_at == NOW
    assert case.lead_department_id == "dept-water"


def test_a_late_dispatch_does_not_move_an_accepted_case_back_but_records_its_department() -> None:
    case = run(new_case(), at(2, S.ACCEPTED))
    assert apply_progress(case, at(1, S.DISPATCHED, "dept-water"), NOW)
    assert case.state is S.ACCEPTED
    assert case.lead_department_id == "dept-water"


@pytest.mark.parametrize("target", [s for s in S if s is not S.CLOSED])
def test_nothing_moves_a_closed_case(target: CaseState) -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(5, S.CLOSED))
    assert not apply_progress(case, at(10, target, "dept-b"), NOW)
    assert case.state is S.CLOSED and case.lead_department_id == "dept-a"


@pytest.mark.parametrize("state", [S.TRIAGE, S.REJECTED, S.MERGED])
def test_cases_not_in_the_loop_take_no_progress(state: CaseState) -> None:
    case = new_case(state)
    assert not apply_progress(case, at(1, S.ACCEPTED), NOW)
    assert case.state is state


def test_steps_may_be_skipped_forward() -> None:
    case = run(new_case(), at(3, S.COMPLETED))
    assert case.state is S.COMPLETED


def test_unroutable_then_manual_dispatch_but_never_back_to_unroutable() -> None:
    case = run(new_case(), at(1, S.UNROUTABLE), at(2, S.DISPATCHED, "dept-a"))
    assert case.state is S.DISPATCHED
    assert not apply_progress(case, at(3, S.UNROUTABLE), NOW)
    assert case.state is S.DISPATCHED


def test_a_newer_dispatch_replaces_the_department_and_an_older_one_does_not() -> None:
    case = run(new_case(), at(5, S.DISPATCHED, "dept-b"))
    assert not apply_progress(case, at(1, S.DISPATCHED, "dept-a"), NOW)
    assert case.lead_department_id == "dept-b"
    assert apply_progress(case, at(9, S.DISPATCHED, "dept-c"), NOW)
    assert case.lead_department_id == "dept-c" and case.state is S.DISPATCHED


def test_rework_starts_a_new_round_and_the_old_round_arriving_late_is_ignored() -> None:
    case = run(new_case(), at(1, S.DISPATCHED), at(3, S.COMPLETED), at(4, S.REWORK))
    assert run(case).state is S.REWORK
    assert not apply_progress(case, at(2, S.ACCEPTED), NOW)  # round one, late
    assert not apply_progress(case, at(3, S.COMPLETED), NOW)  # round one, redelivered
    assert run(case).state is S.REWORK
    assert apply_progress(case, at(6, S.COMPLETED), NOW)  # round two
    assert run(case).state is S.COMPLETED
    assert not apply_progress(case, at(4, S.REWORK), NOW)  # the old verdict again
    assert run(case).state is S.COMPLETED


def test_a_completed_case_that_was_verified_ignores_a_late_rework() -> None:
    case = run(new_case(), at(3, S.COMPLETED), at(5, S.VERIFIED))
    assert not apply_progress(case, at(4, S.REWORK), NOW)
    assert case.state is S.VERIFIED


@st.composite
def histories(draw: st.DrawFn) -> list[Progress]:
    """A causally ordered history (one clock), cut at any point.

    [UNROUTABLE] DISPATCHED ACCEPTED COMPLETED (REWORK [ACCEPTED] COMPLETED)* [VERIFIED CLOSED]
    """
    targets = [S.UNROUTABLE] if draw(st.booleans()) else []
    targets += [S.DISPATCHED, S.ACCEPTED, S.COMPLETED]
    for _ in range(draw(st.integers(0, 2))):
        targets += [S.REWORK, *([S.ACCEPTED] if draw(st.booleans()) else []), S.COMPLETED]
    targets += [S.VERIFIED, S.CLOSED]
    cut = draw(st.integers(1, len(targets)))
    return [at(i, t, f"dept-{i}") for i, t in enumerate(targets[:cut], start=1)]


@given(histories().flatmap(lambda h: st.tuples(st.just(h), st.permutations(h))))
def test_any_delivery_order_ends_where_the_history_ends(
    drawn: tuple[list[Progress], list[Progress]],
) -> None:
    history, delivered = drawn
    case = run(new_case(), *delivered)
    assert case.state is history[-1].target
    # The newest dispatch wins, unless it arrived after the case was closed.
    closed = [i for i, p in enumerate(delivered) if p.target is S.CLOSED]
    before_close = delivered[: closed[0]] if closed else delivered
    dispatches = sorted(
        (p for p in before_close if p.target is S.DISPATCHED), key=lambda p: p.occurred_at
    )
    assert case.lead_department_id == (dispatches[-1].department_id if dispatches else "")


def test_page_query_defaults_caps_and_offsets() -> None:
    assert page_query((), 0, "").limit == 50
    assert page_query((), 10_000, "").limit == MAX_PAGE_SIZE
    query = page_query((S.FILED,), 5, "15")
    assert (query.states, query.offset, query.limit) == ((S.FILED,), 15, 5)


@pytest.mark.parametrize(("size", "token"), [(-1, ""), (10, "abc"), (10, "-5")])
def test_page_query_refuses_bad_input(size: int, token: str) -> None:
    with pytest.raises(InvalidArgumentError):
        page_query((), size, token)
