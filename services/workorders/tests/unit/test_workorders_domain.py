"""The work-order rules: every transition (legal and illegal), each action's
effect, the authorization matrix, feedback checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from svckit.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from svckit.grpc.identity import Caller
from workorders.domain import rules
from workorders.domain.evidence import EvidenceItem, EvidenceKind
from workorders.domain.model import Dispatch, Evidence, OrderState, Place, ReturnReason, WorkOrder
from workorders.domain.states import TRANSITIONS, Action, transition

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SHA = "ab" * 32
OWN = Caller("u-water-1", "department_user", "water")
OTHER_DEPT = Caller("u-roads-1", "department_user", "roads")
OVERSEERS = [
    Caller(f"u-{r}", r, d)
    for r, d in (
        ("operator", "centre"),
        ("supervisor", "centre"),
        # An inspector's own department is not a read scope: 核查 spans every department.
        ("inspector", "centre-inspection"),
        ("auditor", ""),
        ("admin", ""),
    )
]
NO_READ = [Caller("svc", "system")]
S = OrderState

# Every legal (state, action) → resulting state; everything else is refused.
LEGAL: dict[tuple[OrderState, Action], OrderState] = {
    (S.CREATED, Action.ACCEPT): S.ACCEPTED,
    (S.CREATED, Action.RETURN): S.RETURNED,
    (S.ACCEPTED, Action.RETURN): S.RETURNED,
    (S.ACCEPTED, Action.PROGRESS): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.PROGRESS): S.IN_PROGRESS,
    (S.REOPENED, Action.PROGRESS): S.IN_PROGRESS,
    (S.ACCEPTED, Action.REQUEST_EXTENSION): S.EXTENSION_REQUESTED,
    (S.IN_PROGRESS, Action.REQUEST_EXTENSION): S.EXTENSION_REQUESTED,
    (S.REOPENED, Action.REQUEST_EXTENSION): S.EXTENSION_REQUESTED,
    (S.EXTENSION_REQUESTED, Action.DECIDE_EXTENSION): S.IN_PROGRESS,  # resume given below
    (S.ACCEPTED, Action.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, Action.COMPLETE): S.COMPLETED,
    (S.REOPENED, Action.COMPLETE): S.COMPLETED,
    (S.COMPLETED, Action.REOPEN): S.REOPENED,
    **{
        (state, Action.CANCEL): S.CANCELLED
        for state in (
            S.CREATED,
            S.ACCEPTED,
            S.IN_PROGRESS,
            S.EXTENSION_REQUESTED,
            S.REOPENED,
        )
    },
    **{
        (state, Action.UPLOAD_EVIDENCE): state
        for state in (S.ACCEPTED, S.IN_PROGRESS, S.EXTENSION_REQUESTED, S.REOPENED)
    },
}
ALL_PAIRS = [(state, action) for state in OrderState for action in Action]


def order(state: OrderState = S.CREATED, **changes: object) -> WorkOrder:
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
    for name, value in changes.items():
        setattr(made, name, value)
    return made


def upload(kind: EvidenceKind, at: datetime = NOW, evidence_id: str = "EV-1") -> EvidenceItem:
    return EvidenceItem(
        evidence_id=evidence_id,
        order_id="WO-1",
        case_id="C-1",
        department_id="water",
        kind=kind,
        file_name=f"{kind}.jpg",
        media_type="image/jpeg",
        size_bytes=10,
        sha256=SHA,
        bucket="b",
        key=f"WO-1/{evidence_id}",
        uploaded_at=at,
        uploaded_by=OWN.user_id,
    )


BEFORE, AFTER = (
    upload(EvidenceKind.BEFORE_PHOTO),
    upload(EvidenceKind.AFTER_PHOTO, evidence_id="EV-2"),
)
PHOTOS = ("before_photo", "after_photo")


def test_the_table_in_states_is_exactly_the_legal_list() -> None:
    table = {(state, action) for action, (allowed, _) in TRANSITIONS.items() for state in allowed}
    assert table == set(LEGAL)


@pytest.mark.parametrize(("current", "action"), sorted(LEGAL))
def test_legal_transitions(current: OrderState, action: Action) -> None:
    assert transition(current, action, resume=S.IN_PROGRESS) is LEGAL[(current, action)]


@pytest.mark.parametrize(("current", "action"), [pair for pair in ALL_PAIRS if pair not in LEGAL])
def test_illegal_transitions_name_the_state_and_the_action(
    current: OrderState, action: Action
) -> None:
    with pytest.raises(FailedPreconditionError) as info:
        transition(current, action, resume=S.ACCEPTED)
    assert str(current) in str(info.value) and str(action) in str(info.value)


def test_a_dispatch_becomes_a_created_lead_order_of_attempt_one() -> None:
    made = order()
    assert made.state is S.CREATED
    assert (made.case_id, made.department_id, made.title) == ("C-1", "water", "Burst main")
    assert made.deadline == NOW + timedelta(days=2)
    assert made.case_traceparent.startswith("00-111")
    assert (made.role.value, made.attempt) == ("lead", 1)


def test_a_dispatch_without_department_is_refused() -> None:
    bad = Dispatch("D-2", "C-2", "", "E0105", "t", None, None)
    with pytest.raises(InvalidArgumentError, match="department_id"):
        WorkOrder.from_dispatch(bad, order_id="WO-2", now=NOW)


def test_accept_then_complete_records_who_and_when() -> None:
    made = order()
    made.accept(OWN, NOW)
    assert (made.state, made.accepted_by, made.accepted_at) == (S.ACCEPTED, OWN.user_id, NOW)
    later = NOW + timedelta(hours=5)
    made.complete(
        OWN, later, note="  valve replaced ", evidence=(Evidence("s3://e/1.jpg", SHA.upper()),)
    )
    assert made.state is S.COMPLETED
    assert (made.completed_by, made.completed_at, made.completion_note) == (
        OWN.user_id,
        later,
        "valve replaced",
    )
    assert made.evidence == (Evidence("s3://e/1.jpg", SHA),)  # hash normalised to lower case


def test_return_records_reason_and_note_and_other_needs_a_note() -> None:
    made = order(S.ACCEPTED)
    with pytest.raises(InvalidArgumentError, match="note"):
        made.return_order(OWN, NOW, reason=ReturnReason.OTHER, note=" ")
    assert made.state is S.ACCEPTED
    made.return_order(OWN, NOW, reason=ReturnReason.OUTSIDE_JURISDICTION, note="")
    assert (made.state, made.return_reason, made.returned_by) == (
        S.RETURNED,
        ReturnReason.OUTSIDE_JURISDICTION,
        OWN.user_id,
    )


def test_progress_needs_a_note_and_moves_to_in_progress() -> None:
    made = order(S.REOPENED)
    with pytest.raises(InvalidArgumentError, match="progress note"):
        made.report_progress(OWN, NOW, note="")
    made.report_progress(OWN, NOW, note="crew on site")
    assert (made.state, made.progress_note, made.progressed_at) == (
        S.IN_PROGRESS,
        "crew on site",
        NOW,
    )


@pytest.mark.parametrize("working", [S.ACCEPTED, S.IN_PROGRESS, S.REOPENED])
@pytest.mark.parametrize("approved", [True, False])
def test_an_extension_returns_to_the_state_it_left(working: OrderState, approved: bool) -> None:
    made = order(working)
    made.request_extension(OWN, NOW, extension_id="EXT-1", hours=48, reason="parts on order")
    assert made.state is S.EXTENSION_REQUESTED and made.extension is not None
    with pytest.raises(FailedPreconditionError):
        made.decide_extension("EXT-other", approved=True, new_deadline=NOW)
    new_deadline = NOW + timedelta(days=5)
    made.decide_extension("EXT-1", approved=approved, new_deadline=new_deadline)
    assert made.state is working and made.extension is None
    assert made.deadline == (new_deadline if approved else NOW + timedelta(days=2))


@pytest.mark.parametrize(("hours", "reason"), [(0, "x"), (-1, "x"), (721, "x"), (5, " ")])
def test_an_extension_needs_hours_and_a_reason(hours: int, reason: str) -> None:
    made = order(S.ACCEPTED)
    with pytest.raises(InvalidArgumentError):
        made.request_extension(OWN, NOW, extension_id="EXT-1", hours=hours, reason=reason)
    assert made.state is S.ACCEPTED and made.extension is None


def test_reopen_counts_rework_and_cancel_clears_a_pending_extension() -> None:
    made = order(S.COMPLETED)
    made.reopen(NOW, reason="still leaking")
    assert (made.state, made.rework_count, made.reopened_at) == (S.REOPENED, 1, NOW)
    assert made.reopen_reason == "still leaking"
    made.request_extension(OWN, NOW, extension_id="EXT-1", hours=4, reason="r")
    made.cancel(NOW, reason="re-dispatched")
    assert (made.state, made.extension, made.cancel_reason) == (S.CANCELLED, None, "re-dispatched")


def test_escalation_keeps_the_highest_level() -> None:
    made = order()
    assert made.escalate(1, NOW) and made.escalate(2, NOW)
    assert not made.escalate(1, NOW + timedelta(hours=1))
    assert (made.escalation_level, made.escalated_at) == (2, NOW)


def test_remaining_time_is_wall_clock_until_the_deadline() -> None:
    made = order()
    assert made.remaining(NOW) == timedelta(days=2)
    assert made.remaining(NOW + timedelta(days=3)) == timedelta(days=-1)
    made.deadline = None
    assert made.remaining(NOW) is None


# --- completion and the catalogue's 结案条件 -----------------------------------


def test_completion_requires_the_photos_the_category_names() -> None:
    made = order(S.IN_PROGRESS)
    with pytest.raises(FailedPreconditionError, match="before_photo, after_photo"):
        made.complete(OWN, NOW, note="done", evidence=(), required=PHOTOS, accept_external=False)
    with pytest.raises(FailedPreconditionError, match="after_photo") as info:
        made.complete(OWN, NOW, note="done", evidence=(), uploads=[BEFORE], required=PHOTOS)
    assert "before_photo" not in str(info.value)
    assert made.state is S.IN_PROGRESS and made.completed_at is None
    made.complete(OWN, NOW, note="done", evidence=(), uploads=[BEFORE, AFTER], required=PHOTOS)
    assert made.state is S.COMPLETED
    assert [e.uri for e in made.evidence] == [BEFORE.uri, AFTER.uri]


def test_external_refs_stand_in_for_uploads_only_in_legacy_mode() -> None:
    external = (Evidence("https://x.example/after.jpg", SHA, "image/jpeg", 5),)
    strict = order(S.ACCEPTED)
    with pytest.raises(FailedPreconditionError, match="before_photo"):
        strict.complete(
            OWN, NOW, note="done", evidence=external, required=PHOTOS, accept_external=False
        )
    legacy = order(S.ACCEPTED)
    legacy.complete(OWN, NOW, note="done", evidence=external, required=PHOTOS)
    assert legacy.state is S.COMPLETED and legacy.evidence == external


def test_after_a_rework_the_after_photo_must_be_new() -> None:
    made = order(S.REOPENED, reopened_at=NOW + timedelta(hours=1))
    with pytest.raises(FailedPreconditionError, match="after_photo"):
        made.complete(
            OWN,
            NOW,
            note="again",
            evidence=(),
            uploads=[BEFORE, AFTER],
            required=PHOTOS,
            accept_external=False,
        )
    fresh = upload(EvidenceKind.AFTER_PHOTO, NOW + timedelta(hours=2), "EV-3")
    made.complete(
        OWN,
        NOW,
        note="again",
        evidence=(),
        uploads=[BEFORE, AFTER, fresh],
        required=PHOTOS,
        accept_external=False,
    )
    assert made.state is S.COMPLETED


def test_a_store_ref_must_be_an_upload_of_this_order() -> None:
    made = order(S.ACCEPTED)
    foreign = Evidence("nats-os://b/WO-other/EV-9", SHA)
    with pytest.raises(NotFoundError, match="not an upload of this order"):
        made.complete(OWN, NOW, note="done", evidence=(foreign,), uploads=[BEFORE])
    own = Evidence(BEFORE.uri, SHA.upper())
    made.complete(OWN, NOW, note="done", evidence=(own,), uploads=[BEFORE])
    assert made.evidence == (BEFORE.ref(),)  # cited once, not twice


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
    made = order(S.ACCEPTED)
    with pytest.raises(InvalidArgumentError, match=message):
        made.complete(OWN, NOW, note=note, evidence=evidence)
    assert made.state is S.ACCEPTED


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
def test_only_the_owning_department_acts(caller: Caller) -> None:
    attempts = [
        (S.CREATED, lambda o: o.accept(caller, NOW)),
        (S.CREATED, lambda o: o.return_order(caller, NOW, reason=ReturnReason.DUPLICATE, note="")),
        (S.ACCEPTED, lambda o: o.report_progress(caller, NOW, note="n")),
        (
            S.ACCEPTED,
            lambda o: o.request_extension(caller, NOW, extension_id="E", hours=1, reason="r"),
        ),
        (S.ACCEPTED, lambda o: o.complete(caller, NOW, note="done", evidence=())),
        (S.ACCEPTED, lambda o: o.ensure_accepts_evidence(caller)),
    ]
    for state, act in attempts:
        made = order(state)
        with pytest.raises(PermissionDeniedError):
            act(made)
        assert made.state is state and made.accepted_by == made.completed_by == ""


def test_authorization_is_checked_before_the_state() -> None:
    """Another department learns nothing about the order's state from the error."""
    with pytest.raises(PermissionDeniedError):
        order(S.COMPLETED).accept(OTHER_DEPT, NOW)


@pytest.mark.parametrize(("requested", "expected"), [(0, 50), (1, 1), (500, 500), (10_000, 500)])
def test_page_size_is_bounded(requested: int, expected: int) -> None:
    assert rules.page_size(requested) == expected


def test_negative_page_size_and_blank_request_id_are_invalid() -> None:
    with pytest.raises(InvalidArgumentError):
        rules.page_size(-1)
    with pytest.raises(InvalidArgumentError, match="request_id"):
        rules.require_request_id(" ")
