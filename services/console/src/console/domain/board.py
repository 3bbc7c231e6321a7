"""The escalation board (督办) and countdowns: how close each order is to its
deadline. Deadlines come from dispatch, computed in working time; the
countdown to them runs on the wall clock, and next to it work orders'
working hours left on the department's calendar."""

from __future__ import annotations

from enum import StrEnum


class Risk(StrEnum):
    OVERDUE = "overdue"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    NO_DEADLINE = "no_deadline"


RISK_ORDER = {Risk.OVERDUE: 0, Risk.AT_RISK: 1, Risk.ON_TRACK: 2, Risk.NO_DEADLINE: 3}


def classify(remaining_seconds: int | None, escalation_level: int, at_risk_seconds: int) -> Risk:
    """Overdue once the deadline passed; at risk when dispatch has warned (督办)
    or less than `at_risk_seconds` remain."""
    if remaining_seconds is None:
        return Risk.AT_RISK if escalation_level > 0 else Risk.NO_DEADLINE
    if remaining_seconds < 0:
        return Risk.OVERDUE
    if escalation_level > 0 or remaining_seconds < at_risk_seconds:
        return Risk.AT_RISK
    return Risk.ON_TRACK


def countdown(remaining_seconds: int | None) -> str:
    """ "1d 02:03:04", "-00:12:00" (overdue by twelve minutes); "" without a deadline."""
    if remaining_seconds is None:
        return ""
    sign = "-" if remaining_seconds < 0 else ""
    left = abs(remaining_seconds)
    days, left = divmod(left, 86_400)
    hours, left = divmod(left, 3_600)
    minutes, seconds = divmod(left, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


def working_hours(remaining_working_seconds: int | None) -> str:
    """ "1.5", "-2.5" (overdue by two and a half working hours), "40"; "" when unknown.

    Hours to a tenth, not a clock: a working day is 7.5 hours, so days and a
    ticking clock would read as wall-clock time.
    """
    if remaining_working_seconds is None:
        return ""
    hours = round(remaining_working_seconds / 3600, 1)
    return f"{hours:g}" if hours else "0"
