"""State rules: the newer report wins, final states stay, loops (return, rework,
backlog, reclassify) follow time; escalation and arbitration are flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.domain.model import (
    ArbitrationRequest,
    Case,
    CaseState,
    DispatchFacts,
    Escalation,
    FilingSource,
    Place,
    Progress,
    Resumption,
)
from intake.domain.rules import (
    MAX_PAGE_SIZE,
    apply_escalation,
    apply_progress,
    apply_signal,
    page_query,
)
from svckit.errors import InvalidArgumentError

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
S = CaseState
WORK_ORDER_STATES = {S.ACCEPTED, S.IN_PROGRESS, S.COMPLETED, S.RETURNED}


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
    """A report at T0 + minutes; dispatches carry their department as lead."""
    when = T0 + timedelta(minutes=minutes)
    if target is S.DISPATCHED:
        return Progress("case-1", target, when, department, dispatch=DispatchFacts(department))
    return Progress("case-1", target, when, department, from_department=target in WORK_ORDER_STATES)


def assist(minutes: int, department: str, target: CaseState = S.DISPATCHED) -> Progress:
    """A report about an assisting department's share (its dispatch or its order)."""
    when = T0 + timedelta(minutes=minutes)
    dispatch = DispatchFacts(department) if target is S.DISPATCHED else None
    return Progress(
        "case-1",
        target,
        when,
        department,
        dispatch=dispatch,
        from_department=dispatch is None,
        assist=True,
    )


def run(case: Case, *events: Progress | Escalation | ArbitrationRequest) -> Case:
    for event in events:
        apply_signal(case, event, NOW)
    return case


def test_the_closed_loop_in_order_ends_closed() -> None:
    case = new_case()
    steps = [S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.COMPLETED, S.VERIFIED, S.CLOSED]
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
    assert not apply_progress(case, at(1, S.DISPATCHED, "dept-a"), NOW)
    assert not apply_escalation(case, Escalation("case-1", 1, T0), NOW)
    assert case.state is state and case.lead_department_id == ""


def test_steps_may_be_skipped_forward() -> None:
    case = run(new_case(), at(3, S.COMPLETED))
    assert case.state is S.COMPLETED


def test_a_stale_unroutable_never_undoes_a_manual_dispatch_but_a_newer_one_does() -> None:
    case = run(new_case(), at(1, S.UNROUTABLE), at(2, S.DISPATCHED, "dept-a"))
    assert case.state is S.DISPATCHED
    assert not apply_progress(case, at(1, S.UNROUTABLE), NOW)  # redelivered
    assert case.state is S.DISPATCHED
    # After a reclassification dispatch may find no rule for the new 小类:
    assert apply_progress(case, at(3, S.UNROUTABLE), NOW)
    assert case.state is S.UNROUTABLE


def test_a_newer_dispatch_replaces_the_department_and_an_older_one_does_not() -> None:
    case = run(new_case(), at(5, S.DISPATCHED, "dept-b"))
    assert not apply_progress(case, at(1, S.DISPATCHED, "dept-a"), NOW)
    assert case.lead_department_id == "dept-b"
    assert apply_progress(case, at(9, S.DISPATCHED, "dept-c"), NOW)
    assert case.lead_department_id == "dept-c" and case.state is S.DISPATCHED
    assert case.released_department_ids == ["dept-b"]


def test_rework_starts_a_new_round_and_the_old_round_arriving_late_is_ignored() -> None:
    case = run(new_case(), at(1, S.DISPATCHED), at(3, S.COMPLETED), at(4, S.REWORK))
    assert case.state is S.REWORK
    assert not apply_progress(case, at(2, S.ACCEPTED), NOW)  # round one, late
    assert not apply_progress(case, at(3, S.COMPLETED), NOW)  # round one, redelivered
    assert case.state is S.REWORK
    assert apply_progress(case, at(5, S.IN_PROGRESS), NOW)  # round two
    assert apply_progress(case, at(6, S.COMPLETED), NOW)
    assert case.state is S.COMPLETED
    assert not apply_progress(case, at(4, S.REWORK), NOW)  # the old verdict again
    assert case.state is S.COMPLETED


def test_a_verified_case_waits_only_for_closing() -> None:
    case = run(new_case(), at(3, S.COMPLETED), at(5, S.VERIFIED))
    assert not apply_progress(case, at(4, S.REWORK), NOW)
    assert not apply_progress(case, at(6, S.IN_PROGRESS, "dept-a"), NOW)  # a note, too late
    assert case.state is S.VERIFIED
    assert apply_progress(case, at(7, S.CLOSED), NOW)


def test_a_return_then_redispatch_moves_to_the_new_department_and_ignores_the_old_one() -> None:
    case = run(
        new_case(),
        at(1, S.DISPATCHED, "dept-a"),
        at(2, S.ACCEPTED, "dept-a"),
        at(3, S.RETURNED, "dept-a"),
    )
    assert case.state is S.RETURNED and case.lead_department_id == "dept-a"
    run(case, at(4, S.DISPATCHED, "dept-b"))
    assert (case.state, case.lead_department_id) == (S.DISPATCHED, "dept-b")
    # dept-a's order is history now, even if its clock says later (a stray note):
    assert not apply_progress(case, at(5, S.IN_PROGRESS, "dept-a"), NOW)
    assert apply_progress(case, at(5, S.ACCEPTED, "dept-b"), NOW)
    assert case.state is S.ACCEPTED


def test_the_new_departments_accept_may_arrive_before_its_redispatch() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(3, S.RETURNED, "dept-a"))
    run(case, at(5, S.ACCEPTED, "dept-b"), at(4, S.DISPATCHED, "dept-b"))
    assert (case.state, case.lead_department_id) == (S.ACCEPTED, "dept-b")


def test_an_assisting_department_never_moves_the_case() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-lead"), assist(1, "dept-help"))
    assert case.assist_department_ids == ["dept-help"]
    assert case.lead_department_id == "dept-lead"
    # Its own order says so (role ASSIST), or the case knows it as an assistant:
    assert not apply_progress(case, assist(2, "dept-help", S.COMPLETED), NOW)
    assert not apply_progress(case, at(2, S.RETURNED, "dept-help"), NOW)
    assert case.state is S.DISPATCHED
    assert apply_progress(case, at(3, S.ACCEPTED, "dept-lead"), NOW)


def test_backlog_stops_the_case_until_something_newer_happens() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(2, S.ACCEPTED, "dept-a"))
    assert apply_progress(case, at(5, S.BACKLOGGED), NOW)
    apply_progress(case, at(3, S.IN_PROGRESS, "dept-a"), NOW)  # before 挂账
    assert case.state is S.BACKLOGGED
    assert apply_progress(case, at(9, S.CLOSED), NOW)


def resumed(minutes: int, fallback: CaseState = S.DISPATCHED) -> Resumption:
    return Resumption("case-1", T0 + timedelta(minutes=minutes), fallback)


def test_resuming_restores_the_state_before_backlog() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(2, S.ACCEPTED, "dept-a"))
    run(case, at(5, S.BACKLOGGED))
    assert not apply_signal(case, resumed(4), NOW)  # older than the 挂账
    assert apply_signal(case, resumed(9), NOW)
    assert (case.state, case.state_at) == (S.ACCEPTED, T0 + timedelta(minutes=9))
    assert case.state_before_backlog is None
    assert not apply_progress(case, at(5, S.BACKLOGGED), NOW)  # the 挂账 delivered again
    assert not apply_signal(case, resumed(9), NOW)  # so is the resume
    assert case.state is S.ACCEPTED
    assert apply_progress(case, at(10, S.IN_PROGRESS, "dept-a"), NOW)


def test_history_from_before_the_backlog_arriving_during_it_moves_what_resuming_restores() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(5, S.BACKLOGGED))
    assert case.state_before_backlog is S.DISPATCHED
    assert apply_progress(case, at(3, S.IN_PROGRESS, "dept-a"), NOW)
    assert not apply_progress(case, at(2, S.ACCEPTED, "dept-a"), NOW)  # older still
    assert case.state is S.BACKLOGGED and case.state_before_backlog is S.IN_PROGRESS
    run(case, resumed(9))
    assert case.state is S.IN_PROGRESS


def test_a_resume_of_a_case_not_in_backlog_changes_nothing() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(2, S.ACCEPTED, "dept-a"))
    assert not apply_signal(case, resumed(9), NOW)
    run(case, at(5, S.BACKLOGGED), at(7, S.CLOSED))
    assert not apply_signal(case, resumed(9), NOW) and case.state is S.CLOSED


def test_without_a_kept_state_resuming_takes_the_one_dispatch_names() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(3, S.RETURNED, "dept-a"))
    run(case, ArbitrationRequest("case-1", T0 + timedelta(minutes=4)), at(5, S.BACKLOGGED))
    assert not case.arbitration_requested
    assert apply_signal(case, resumed(9), NOW)
    assert case.state is S.RETURNED and case.arbitration_requested  # waiting for 仲裁 again
    unknown = run(new_case(S.BACKLOGGED))  # backlogged before intake kept the state
    run(unknown, resumed(9, S.UNROUTABLE))
    assert unknown.state is S.UNROUTABLE


def test_escalation_is_a_level_reset_by_a_newer_lead_dispatch() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(2, S.ACCEPTED, "dept-a"))
    run(case, Escalation("case-1", 1, T0 + timedelta(minutes=3)))
    run(case, Escalation("case-1", 2, T0 + timedelta(minutes=4)))
    assert not apply_escalation(case, Escalation("case-1", 1, T0 + timedelta(minutes=5)), NOW)
    assert (case.escalation_level, case.state) == (2, S.ACCEPTED)
    run(case, at(6, S.RETURNED, "dept-a"), at(7, S.DISPATCHED, "dept-b"))
    assert case.escalation_level == 0
    # An escalation of dept-a's dispatch arriving late stays history:
    assert not apply_escalation(case, Escalation("case-1", 3, T0 + timedelta(minutes=5)), NOW)


def test_arbitration_is_flagged_until_the_next_dispatch() -> None:
    case = run(new_case(), at(1, S.DISPATCHED, "dept-a"), at(3, S.RETURNED, "dept-a"))
    run(case, ArbitrationRequest("case-1", T0 + timedelta(minutes=4)))
    assert case.arbitration_requested and case.state is S.RETURNED
    run(case, at(8, S.DISPATCHED, "dept-c"))
    assert not case.arbitration_requested


# --- any delivery order ----------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[Progress | Escalation | ArbitrationRequest]:
    """A causally ordered history on one clock, cut at any point.

    [UNROUTABLE] D(a) ACCEPTED [IN_PROGRESS]
      ( RETURNED [ARBITRATION] D(next) ACCEPTED [IN_PROGRESS] )*
      [BACKLOGGED D(next) ACCEPTED]
      COMPLETED ( REWORK [IN_PROGRESS] COMPLETED )* [ESCALATED]* VERIFIED CLOSED

    Each D is a lead dispatch to a new department (with an assist sometimes);
    work-order events come from the current lead, and the assist reports too.
    """
    events: list[Progress | Escalation | ArbitrationRequest] = []
    clock = iter(range(1, 10_000))
    departments = iter(f"dept-{i}" for i in range(100))
    lead = ""

    def step(target: CaseState) -> None:
        events.append(at(next(clock), target, lead))

    def dispatch() -> None:
        nonlocal lead
        lead = next(departments)
        step(S.DISPATCHED)
        if draw(st.booleans()):
            helper = f"help-{lead}"
            events.append(assist(next(clock), helper))
            events.append(assist(next(clock), helper, S.COMPLETED))

    def work() -> None:
        step(S.ACCEPTED)
        if draw(st.booleans()):
            step(S.IN_PROGRESS)

    if draw(st.booleans()):
        step(S.UNROUTABLE)
    dispatch()
    work()
    for _ in range(draw(st.integers(0, 2))):
        step(S.RETURNED)
        if draw(st.booleans()):
            events.append(ArbitrationRequest("case-1", T0 + timedelta(minutes=next(clock))))
        dispatch()
        work()
    if draw(st.booleans()):
        step(S.BACKLOGGED)
        dispatch()
        work()
    step(S.COMPLETED)
    for _ in range(draw(st.integers(0, 2))):
        step(S.REWORK)
        if draw(st.booleans()):
            step(S.IN_PROGRESS)
        step(S.COMPLETED)
    for level in range(1, draw(st.integers(1, 3))):
        events.append(Escalation("case-1", level, T0 + timedelta(minutes=next(clock))))
    step(S.VERIFIED)
    step(S.CLOSED)
    cut = draw(st.integers(1, len(events)))
    return events[:cut]


def expected_state(history: list[Progress | Escalation | ArbitrationRequest]) -> CaseState:
    """The last state a lead reported (assists and flags say nothing about state)."""
    state = S.FILED
    for event in history:
        if isinstance(event, Progress) and not event.assist:
            state = event.target
    return state


@given(histories().flatmap(lambda h: st.tuples(st.just(h), st.permutations(h))))
def test_any_delivery_order_ends_where_the_history_ends(
    drawn: tuple[
        list[Progress | Escalation | ArbitrationRequest],
        list[Progress | Escalation | ArbitrationRequest],
    ],
) -> None:
    history, delivered = drawn
    case = run(new_case(), *delivered)
    assert case.state is expected_state(history)
    # The newest lead dispatch wins, unless it arrived after the case was closed.
    closed = [
        i for i, e in enumerate(delivered) if isinstance(e, Progress) and e.target is S.CLOSED
    ]
    before_close = delivered[: closed[0]] if closed else delivered
    leads = sorted(
        (
            e
            for e in before_close
            if isinstance(e, Progress) and e.dispatch is not None and not e.assist
        ),
        key=lambda e: e.occurred_at,
    )
    assert case.lead_department_id == (leads[-1].department_id if leads else "")


@given(histories())
def test_delivering_everything_twice_changes_nothing(
    history: list[Progress | Escalation | ArbitrationRequest],
) -> None:
    once = run(new_case(), *history)
    twice = run(new_case(), *history, *history)
    assert (twice.state, twice.lead_department_id, twice.escalation_level) == (
        once.state,
        once.lead_department_id,
        once.escalation_level,
    )


def test_page_query_defaults_caps_and_offsets() -> None:
    assert page_query((), 0, "").limit == 50
    assert page_query((), 10_000, "").limit == MAX_PAGE_SIZE
    query = page_query((S.FILED,), 5, "15")
    assert (query.states, query.offset, query.limit) == ((S.FILED,), 15, 5)


@pytest.mark.parametrize(("size", "token"), [(-1, ""), (10, "abc"), (10, "-5")])
def test_page_query_refuses_bad_input(size: int, token: str) -> None:
    with pytest.raises(InvalidArgumentError):
        page_query((), size, token)
