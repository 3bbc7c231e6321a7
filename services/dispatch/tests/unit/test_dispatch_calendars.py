"""Calendar and team files: validated as a whole, every problem naming its entry."""

from __future__ import annotations

from datetime import date

import pytest

from dispatch.domain.model import ResponsibilityError
from dispatch.domain.reference import ReferenceData
from dispatch.domain.teams import DepartmentTeams, Strategy, Team, parse_teams
from svckit.reference import DepartmentType


def test_the_shipped_calendars_know_2025_to_2027(shipped_reference: ReferenceData) -> None:
    city = shipped_reference.calendars.default
    assert date(2026, 2, 17) in city.holidays and date(2026, 2, 28) in city.workdays
    assert date(2025, 1, 28) in city.holidays and date(2025, 10, 11) in city.workdays
    assert city.provisional_years == frozenset({2027})
    gas = shipped_reference.calendars.for_department("D03-gas", DepartmentType.GAS)
    assert gas.name == "round_the_clock" and not gas.observes_holidays


def test_team_files_are_checked(shipped_reference: ReferenceData) -> None:
    with pytest.raises(ResponsibilityError) as raised:
        parse_teams(
            {
                "departments": {
                    "D09-x": {"teams": []},
                    "D01-water": {"strategy": "random", "teams": []},
                    "D02-water": {"teams": [{"id": "t1"}]},
                }
            },
            shipped_reference.directory,
            source="t",
        )
    assert raised.value.problems == (
        "department D09-x: unknown department",
        "department D01-water: strategy must be round_robin or least_loaded",
        "department D02-water: teams[0] needs id, name_zh and name_en",
        "department D02-water: list at least one team",
    )


def test_round_robin_takes_turns_and_least_loaded_picks_the_idlest() -> None:
    teams = (Team("a", "甲", "A"), Team("b", "乙", "B"), Team("c", "丙", "C"))
    robin = DepartmentTeams("D01-water", Strategy.ROUND_ROBIN, teams)
    assert robin.pick(last_team_id=None, loads={}) == "a"
    assert robin.pick(last_team_id="a", loads={}) == "b"
    assert robin.pick(last_team_id="c", loads={}) == "a"
    assert robin.pick(last_team_id="retired-team", loads={}) == "a"
    least = DepartmentTeams("D01-water", Strategy.LEAST_LOADED, teams)
    assert least.pick(last_team_id=None, loads={"a": 2, "b": 1, "c": 1}) == "b"
    assert least.pick(last_team_id=None, loads={"a": 2, "b": 3}) == "c"
