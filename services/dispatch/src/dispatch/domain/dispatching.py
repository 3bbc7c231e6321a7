"""Deciding a filed case: dispatched to a department with a deadline, or unroutable."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import DispatchRecord, Outcome
from svckit.errors import InvalidArgumentError


def decide(
    matrix: ResponsibilityMatrix,
    *,
    dispatch_id: str,
    case_id: str,
    category_code: str,
    district_code: str,
    now: datetime,
    origin_traceparent: str = "",
) -> DispatchRecord:
    """Route a filed case now; any reason it cannot be routed becomes an unroutable record.

    A filed case is never refused: intake has already opened it, so a case no
    rule covers (or one naming a category or district this service does not
    know, e.g. after a catalogue change) is recorded as unroutable with the
    reason, for an operator to dispatch by hand, rather than dropped.
    """
    unroutable = DispatchRecord(
        dispatch_id=dispatch_id,
        case_id=case_id,
        category_code=category_code,
        district_code=district_code,
        outcome=Outcome.UNROUTABLE,
        decided_at=now,
        origin_traceparent=origin_traceparent,
    )
    if not district_code:
        return replace(unroutable, reason="the case's place has no district")
    try:
        decision = matrix.route(category_code, district_code, now)
    except InvalidArgumentError as exc:
        return replace(unroutable, reason=str(exc))
    if decision is None:
        reason = (
            f"no responsibility rule (version {matrix.version}) covers {category_code} "
            f"in {district_code} on {matrix.local_date(now)}"
        )
        return replace(unroutable, reason=reason)
    return replace(
        unroutable,
        outcome=Outcome.DISPATCHED,
        department_id=decision.department_id,
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        handling_hours=decision.handling_hours,
        deadline=decision.deadline(now),
    )
