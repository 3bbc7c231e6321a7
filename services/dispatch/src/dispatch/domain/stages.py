"""Stages of the case loop and the working hours each may take, per urgency.

Hours come from three places, the most specific first: the winning rule's
``deadlines`` (for the case's urgency, then its ``default``), the rule's
``handling_hours`` (处置 only, the shorthand of the first matrix), the
catalogue-wide ``deadlines`` of the responsibility file, and finally the
catalogue's 处置时限 for the 小类 (处置 only).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from svckit.calendars import hours


class Stage(StrEnum):
    """A clocked stage; the values are what ``CaseEscalated.stage`` carries."""

    FILING = "filing"  # 立案
    DISPATCH = "dispatch"  # 派遣
    DISPOSAL = "disposal"  # 处置
    VERIFICATION = "verification"  # 核查


DEFAULT_URGENCY = "default"
URGENCIES = (DEFAULT_URGENCY, "immediate", "expected", "future", "past", "unknown")

# urgency -> stage -> working time
StageTable = Mapping[str, Mapping[Stage, timedelta]]


def parse_stage_table(
    raw: Any, label: str, problems: list[str]
) -> dict[str, dict[Stage, timedelta]]:
    """``{urgency: {stage: hours}}`` from YAML; every problem is appended, naming ``label``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: deadlines must map an urgency to {{stage: hours}}")
        return {}
    table: dict[str, dict[Stage, timedelta]] = {}
    for urgency, stages in raw.items():
        if urgency not in URGENCIES:
            problems.append(
                f"{label}: deadlines: unknown urgency {urgency!r} (known: {', '.join(URGENCIES)})"
            )
            continue
        if not isinstance(stages, Mapping):
            problems.append(f"{label}: deadlines.{urgency} must map a stage to hours")
            continue
        row: dict[Stage, timedelta] = {}
        for stage, value in stages.items():
            if stage not in Stage.__members__.values():
                known = ", ".join(s.value for s in Stage)
                problems.append(f"{label}: deadlines.{urgency}: unknown stage {stage!r} ({known})")
            elif not _positive(value):
                problems.append(
                    f"{label}: deadlines.{urgency}.{stage} must be positive hours (got {value!r})"
                )
            else:
                row[Stage(stage)] = hours(float(value))
        table[str(urgency)] = row
    return table


def table_to_mapping(table: StageTable) -> dict[str, dict[str, float]]:
    """The YAML shape back, for storing and showing a rule."""
    return {
        urgency: {stage.value: value.total_seconds() / 3600 for stage, value in row.items()}
        for urgency, row in table.items()
    }


def lookup(table: StageTable, stage: Stage, urgency: str) -> timedelta | None:
    """The table's hours for this stage at this urgency, falling back to its ``default`` row."""
    for key in (urgency, DEFAULT_URGENCY):
        value = table.get(key, {}).get(stage)
        if value is not None:
            return value
    return None


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
