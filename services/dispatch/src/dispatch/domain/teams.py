"""Teams (班组/中队) inside a department, and which one gets the next case.

Optional: a department with no teams configured receives cases as a whole.
Round-robin takes turns in the configured order after the team that got the
department's previous case; least-loaded picks the team with the fewest open
cases (ties: configured order). The choice is recorded on the assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.model import ResponsibilityError


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class Team:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class DepartmentTeams:
    department_id: str
    strategy: Strategy
    teams: tuple[Team, ...]

    def pick(self, *, last_team_id: str | None, loads: Mapping[str, int]) -> str:
        """The team for the next case."""
        ids = [t.id for t in self.teams]
        if self.strategy is Strategy.LEAST_LOADED:
            return min(ids, key=lambda t: (loads.get(t, 0), ids.index(t)))
        if last_team_id in ids:
            return ids[(ids.index(last_team_id) + 1) % len(ids)]
        return ids[0]


def parse_teams(
    data: Any, directory: DepartmentDirectory, *, source: str
) -> dict[str, DepartmentTeams]:
    """``{departments: {<id>: {strategy, teams: [{id, name_zh, name_en}]}}}``; every problem at once."""
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not isinstance(data.get("departments", {}), Mapping):
        raise ResponsibilityError(source, ["top level: expected a `departments` mapping"])
    problems: list[str] = []
    result: dict[str, DepartmentTeams] = {}
    seen: dict[str, str] = {}
    for department_id, raw in (data.get("departments") or {}).items():
        label = f"department {department_id}"
        if department_id not in directory:
            problems.append(f"{label}: unknown department")
            continue
        if not isinstance(raw, Mapping):
            problems.append(f"{label}: expected strategy and teams")
            continue
        try:
            strategy = Strategy(raw.get("strategy", Strategy.ROUND_ROBIN))
        except ValueError:
            problems.append(f"{label}: strategy must be round_robin or least_loaded")
            continue
        teams: list[Team] = []
        for index, entry in enumerate(raw.get("teams") or []):
            fields = [
                entry.get(k) if isinstance(entry, Mapping) else None
                for k in ("id", "name_zh", "name_en")
            ]
            if not all(isinstance(f, str) and f.strip() for f in fields):
                problems.append(f"{label}: teams[{index}] needs id, name_zh and name_en")
                continue
            team = Team(*(str(f).strip() for f in fields))
            if team.id in seen:
                problems.append(f"{label}: team {team.id} is already a team of {seen[team.id]}")
                continue
            seen[team.id] = department_id
            teams.append(team)
        if not teams:
            problems.append(f"{label}: list at least one team")
            continue
        result[department_id] = DepartmentTeams(department_id, strategy, tuple(teams))
    if problems:
        raise ResponsibilityError(source, problems)
    return result
