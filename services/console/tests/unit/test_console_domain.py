"""The console's pure rules: roles, rate limits, sessions, the board, live
events, Open311 parsing and the RFC 6962 proof arithmetic."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from console.domain import board, live, open311
from console.domain.access import (
    READ_ONLY_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    ensure_own_order,
)
from console.domain.accounts import check_password, new_user
from console.domain.ledger_proof import leaf_hash, root_from_inclusion
from console.domain.ratelimit import LoginLimits, retry_after, wait_needed
from console.domain.sessions import SessionPolicy
from svckit.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError
from svckit.reference import Catalogue, default_catalogue_path

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_auditors_hold_only_read_permissions_and_departments_only_their_orders() -> None:
    assert ROLE_PERMISSIONS[Role.AUDITOR] <= READ_ONLY_PERMISSIONS
    assert Principal("a", Role.AUDITOR).read_only
    assert ROLE_PERMISSIONS[Role.DEPARTMENT_USER] == {Permission.ACT_ON_OWN_ORDERS}
    assert Permission.DECIDE_EXTENSION not in ROLE_PERMISSIONS[Role.OPERATOR]
    assert Permission.ARBITRATE in ROLE_PERMISSIONS[Role.SUPERVISOR]
    with pytest.raises(PermissionDeniedError):
        Principal("i", Role.INSPECTOR).require(Permission.TRIAGE)
    with pytest.raises(NotFoundError):
        ensure_own_order(Principal("d", Role.DEPARTMENT_USER, "D01-water"), "o-1", "D02-water")
    ensure_own_order(Principal("s", Role.SUPERVISOR), "o-1", "D02-water")


def test_accounts_need_sane_names_long_passwords_and_a_department_for_department_users() -> None:
    with pytest.raises(InvalidArgumentError):
        new_user("x", Role.OPERATOR)
    with pytest.raises(InvalidArgumentError):
        new_user("bob smith", Role.OPERATOR)
    with pytest.raises(InvalidArgumentError, match="department"):
        new_user("bob", Role.DEPARTMENT_USER)
    assert new_user("bob", Role.DEPARTMENT_USER, "D01-water").display_name == "bob"
    with pytest.raises(InvalidArgumentError):
        check_password("short")
    assert check_password("a long enough passphrase")


def test_rate_limit_waits_until_the_oldest_counted_failure_leaves_the_window() -> None:
    window = timedelta(minutes=15)
    failures = [T0 + timedelta(minutes=m) for m in (0, 1, 2)]
    now = T0 + timedelta(minutes=3)
    assert wait_needed(failures, 4, window, now) == 0
    assert wait_needed(failures, 3, window, now) == pytest.approx(12 * 60)
    assert wait_needed(failures, 3, window, T0 + timedelta(minutes=15, seconds=1)) == 0
    limits = LoginLimits(per_user=5, per_ip=2)
    assert retry_after(failures[:1], failures[:2], limits, now) > 0


def test_sessions_expire_when_idle_or_old() -> None:
    policy = SessionPolicy(idle=timedelta(hours=2), absolute=timedelta(hours=12))
    assert not policy.expired(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2, minutes=59))
    assert policy.expired(T0, T0, T0 + timedelta(hours=2))
    assert policy.expired(T0, T0 + timedelta(hours=11, minutes=59), T0 + timedelta(hours=12))
    assert policy.needs_touch(T0, T0 + timedelta(minutes=2))
    assert not policy.needs_touch(T0, T0 + timedelta(seconds=20))


@pytest.mark.parametrize(
    ("remaining", "level", "expected"),
    [
        (-1, 0, board.Risk.OVERDUE),
        (3599, 0, board.Risk.AT_RISK),
        (36_000, 1, board.Risk.AT_RISK),
        (36_000, 0, board.Risk.ON_TRACK),
        (None, 0, board.Risk.NO_DEADLINE),
        (None, 2, board.Risk.AT_RISK),
    ],
)
def test_board_risk(remaining: int | None, level: int, expected: board.Risk) -> None:
    assert board.classify(remaining, level, at_risk_seconds=3600) is expected


def test_countdowns() -> None:
    assert board.countdown(93_784) == "1d 02:03:04"
    assert board.countdown(-720) == "-00:12:00"
    assert board.countdown(None) == ""


def test_live_events_are_small_and_departments_hear_only_their_own() -> None:
    fields = {"order_id": "o-1", "department_id": "D01-water", "actor": {"user_id": "u"}}
    event = live.summarise(
        "cityops.workorders.workorder.accepted",
        "cityops.workorders.v1.WorkOrderAccepted",
        "case-1",
        "t",
        fields,
    )
    assert event is not None and event.kind == "WorkOrderAccepted" and event.order_id == "o-1"
    nested = live.summarise(
        "cityops.intake.case.filed",
        "cityops.intake.v1.CaseFiled",
        "",
        "t",
        {
            "case": {
                "case_id": "c-9",
                "state": "CASE_STATE_FILED",
                "lead_department_id": "D01-water",
            }
        },
    )
    assert nested is not None and nested.case_id == "c-9" and nested.state == "CASE_STATE_FILED"
    assert (
        live.summarise("cityops.detection.detection.reported", "x.DetectionReported", "", "t", {})
        is None
    )
    water = Principal("w", Role.DEPARTMENT_USER, "D01-water")
    gas = Principal("g", Role.DEPARTMENT_USER, "D01-gas")
    assert live.may_hear(water, event) and not live.may_hear(gas, event)
    assert live.may_hear(Principal("a", Role.AUDITOR), event)


def test_open311_parsing() -> None:
    catalogue = Catalogue.load(default_catalogue_path())
    sub = open311.parse_submission(
        {"service_code": "E0105", "lat": " 31.2 ", "long": "121.5", "phone": "12345"}, catalogue
    )
    assert (sub.latitude, sub.longitude, sub.title) == (31.2, 121.5, "")
    assert dict(sub.contact) == {"phone": "12345"}
    long_line = open311.parse_submission(
        {"service_code": "E0105", "lat": "1", "long": "1", "description": "路" * 300}, catalogue
    )
    assert len(long_line.title) == open311.MAX_TITLE and long_line.title.endswith("…")
    assert open311.status_of("CASE_STATE_CLOSED") == "closed"
    assert open311.status_of("CASE_STATE_BACKLOGGED") == "open"
    assert open311.states_for_status("") == (True, True)
    assert open311.states_for_status("closed") == (False, True)
    with pytest.raises(InvalidArgumentError):
        open311.parse_date("2026-01-01T00:00:00", "start_date")
    assert open311.parse_date("2026-01-01T00:00:00Z", "start_date") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    with pytest.raises(InvalidArgumentError):
        open311.parse_ids(",".join(str(i) for i in range(51)))


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13])
def test_inclusion_proofs_lead_to_the_root_for_every_leaf(size: int) -> None:
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(size)]
    root = _mth(leaves)
    for index in range(size):
        assert root_from_inclusion(index, size, leaves[index], _path(index, leaves)) == root
    if size > 1:
        wrong = root_from_inclusion(0, size, leaves[1], _path(0, leaves))
        assert wrong != root
        assert root_from_inclusion(0, size, leaves[0], _path(0, leaves)[:-1]) != root
    assert root_from_inclusion(size, size, leaves[0], []) is None


def test_working_hours_read_as_hours_to_a_tenth() -> None:
    from console.domain.board import working_hours

    assert working_hours(5400) == "1.5"
    assert working_hours(-9000) == "-2.5"
    assert working_hours(144_000) == "40"
    assert working_hours(100) == "0"
    assert working_hours(None) == ""
