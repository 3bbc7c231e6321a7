"""Moving a clock that is already running: a new urgency, or a rework.

A share's deadline is its stage's working time from when its clock started.
When the urgency changes the allowance changes, and the deadline moves by
the difference (either way) in working time on the department's calendar,
so extensions and 挂账 already applied to it are kept. A rework (返工) starts
the 处置 clock afresh with the whole allowance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import Assignment
from dispatch.domain.stages import Stage
from svckit.calendars import WorkingCalendar
from svckit.errors import InvalidArgumentError


def allowance(
    matrix: ResponsibilityMatrix,
    category_code: str,
    assignment: Assignment,
    urgency: str,
    stage: Stage = Stage.DISPOSAL,
) -> timedelta | None:
    """The stage's working time for this share at this urgency, from the rule version that made it.

    A person's decision (manual dispatch, arbitration) has no rule: the
    catalogue-wide hours apply, as when it was made. ``None`` when the
    catalogue no longer knows the 小类.
    """
    rule = matrix.rule_of(assignment.rule_id, assignment.rule_version)
    try:
        return matrix.stage_hours(category_code, urgency, rule).get(stage)
    except InvalidArgumentError:
        return None


def retimed(
    calendar: WorkingCalendar,
    deadline: datetime,
    before: timedelta,
    after: timedelta,
    *,
    not_before: datetime,
) -> datetime:
    """The deadline once the allowance went from ``before`` to ``after`` working time.

    A shorter allowance may put the deadline in the past (the share is then
    overdue at once) but never before its clock started.
    """
    if after >= before:
        return calendar.add(deadline, after - before)
    return max(calendar.subtract(deadline, before - after), not_before)
