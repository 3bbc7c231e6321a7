"""Domain ⇄ ``cityops.dispatch.v1`` service messages (rules, assignments, stage hours)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from dispatch.adapters.integration_events import (
    ROLE_VALUES,
    URGENCY_NAMES,
    URGENCY_VALUES,
    hours_of,
    timestamp,
)
from dispatch.domain.model import Assignment
from dispatch.domain.stages import DEFAULT_URGENCY, Stage
from dispatch.domain.versions import RuleVersion
from svckit.errors import InvalidArgumentError

STAGE_VALUES = {
    Stage.FILING: pb.STAGE_FILING,
    Stage.DISPATCH: pb.STAGE_DISPATCH,
    Stage.DISPOSAL: pb.STAGE_DISPOSAL,
    Stage.VERIFICATION: pb.STAGE_VERIFICATION,
}
STAGES = {value: stage for stage, value in STAGE_VALUES.items()}


def stage_hours_messages(
    table: Mapping[str, Mapping[Stage, timedelta]],
) -> list[pb.StageHours]:
    return [
        pb.StageHours(
            urgency=URGENCY_VALUES.get(urgency, common_pb2.URGENCY_UNSPECIFIED),  # type: ignore[arg-type]
            stage=STAGE_VALUES[stage],
            hours=hours_of(value),
        )
        for urgency, row in table.items()
        for stage, value in row.items()
    ]


def rule_mapping(message: pb.ResponsibilityRule) -> dict[str, Any]:
    """A rule message in the YAML shape, for the one parser every path uses."""
    raw: dict[str, Any] = {
        "id": message.rule_id,
        "categories": list(message.category_codes),
        "districts": list(message.district_codes),
    }
    optional: dict[str, Any] = {
        "department_type": message.department_type or None,
        "department": message.department_id or None,
        "manual": message.manual or None,
        "assists": list(message.assists) or None,
        "streets": list(message.street_codes) or None,
        "grids": list(message.grid_codes) or None,
        "polygon": [[p.latitude, p.longitude] for p in message.polygon] or None,
        "effective_from": message.effective_from or None,
        "effective_to": message.effective_to or None,
        "handling_hours": message.handling_hours or None,
        "precedence": message.precedence or None,
        "fallbacks": list(message.fallbacks) or None,
        "closing_criteria_zh": message.closing_criteria_zh or None,
        "closing_criteria_en": message.closing_criteria_en or None,
    }
    raw.update({k: v for k, v in optional.items() if v is not None})
    deadlines: dict[str, dict[str, float]] = {}
    for entry in message.deadlines:
        if entry.stage not in STAGES:
            raise InvalidArgumentError(f"rule {message.rule_id}: deadlines need a stage")
        urgency = URGENCY_NAMES.get(entry.urgency, DEFAULT_URGENCY)
        deadlines.setdefault(urgency, {})[STAGES[entry.stage].value] = entry.hours
    if deadlines:
        raw["deadlines"] = deadlines
    return raw


def rule_message(raw: Mapping[str, Any]) -> pb.ResponsibilityRule:
    """A rule's YAML shape (``ResponsibilityRule.to_mapping()``) as a message."""
    message = pb.ResponsibilityRule(
        rule_id=raw["id"],
        category_codes=raw["categories"],
        district_codes=raw["districts"],
        department_type=raw.get("department_type", ""),
        department_id=raw.get("department", ""),
        manual=raw.get("manual", False),
        assists=raw.get("assists", []),
        street_codes=raw.get("streets", []),
        grid_codes=raw.get("grids", []),
        polygon=[
            common_pb2.GeoPoint(latitude=p[0], longitude=p[1]) for p in raw.get("polygon", [])
        ],
        effective_from=raw["effective_from"],
        effective_to=raw.get("effective_to", ""),
        precedence=raw.get("precedence", 0),
        fallbacks=raw.get("fallbacks", []),
        closing_criteria_zh=raw.get("closing_criteria_zh", ""),
        closing_criteria_en=raw.get("closing_criteria_en", ""),
        handling_hours=raw.get("handling_hours") or 0.0,
    )
    for urgency, row in raw.get("deadlines", {}).items():
        for stage, value in row.items():
            message.deadlines.append(
                pb.StageHours(
                    urgency=URGENCY_VALUES.get(urgency, common_pb2.URGENCY_UNSPECIFIED),  # type: ignore[arg-type]
                    stage=STAGE_VALUES[Stage(stage)],
                    hours=value,
                )
            )
    return message


def rule_version_message(
    version: RuleVersion, period: tuple[date, date | None] | None
) -> pb.RuleVersion:
    return pb.RuleVersion(
        rule=rule_message(version.rule.to_mapping()),
        version=version.version,
        retired=version.retired,
        source=version.source,
        recorded_at=timestamp(version.recorded_at),
        recorded_by=version.recorded_by,
        in_force_from=period[0].isoformat() if period else "",
        in_force_to=period[1].isoformat() if period and period[1] else "",
    )


def assignment_message(a: Assignment) -> pb.Assignment:
    return pb.Assignment(
        dispatch_id=a.dispatch_id,
        department_id=a.department_id,
        role=ROLE_VALUES[a.role],
        attempt=a.attempt,
        rule_id=a.rule_id,
        rule_version=a.rule_version,
        team_id=a.team_id,
        dispatched_at=timestamp(a.dispatched_at),
        deadline=timestamp(a.deadline),
        status=a.status.value,
        lost_hours=hours_of(a.lost),
    )
