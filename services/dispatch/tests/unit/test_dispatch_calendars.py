"""Calendar and team files: validated as a whole, every problem naming its entry."""

from __future__ import annotations

from datetime import date

import pytest

from dispatch.domain.calendars import parse_calendars, parse_holiday_year
from dispatch.domain.model import ResponsibilityError
from dispatch.domain.reference import ReferenceData
from dispatch.domain.teams import DepartmentTeams, Strategy, Team, parse_teams
from svckit.reference import DepartmentType


def test_holiday_files_are_checked() -> None:
    with pytest.raises(ResponsibilityError) as raised:
        parse_holiday_year(
            {
                "year": 2026,
                "holidays": [
                    {"name_zh": "春节", "from": "2026-02-15", "to": "2026-02-10"},
                    {"name_zh": "元旦", "from": "2025-12-31"},
                ],
                "workdays": [{"date": "2026-02-16"}, {"date": "2026-02-14"}, {"date": "soon"}],
                "colour": "red",
            },
            source="h",
        )
    problems = raised.value.problems
    assert "top level: unknown field 'colour'" in problems
    assert "holidays[0] (春节): to 2026-02-10 is before from 2026-02-15" in problems
    assert "2025-12-31: not in year 2026" in problems
    assert any(p.startswith("workdays[0]: 2026-02-16 is a weekday") for p in problems)
    assert any(p.startswith("workdays[2]: date must be a date") for p in problems)


def test_calendar_definitions_are_checked(shipped_reference: ReferenceData) -> None:
    with pytest.raises(ResponsibilityError) as raised:
        parse_calendars(
            {
                "timezone": "Asia/Shanghai",
                "default": "office",
                "calendars": {
                    "city": {
                        "weekdays": ["mon", "funday"],
                        "hours": ["09:00-12:00", "11:00-13:00"],
                    },
                    "late": {"weekdays": ["mon"], "hours": ["25:00-26:00"]},
                },
                "departments": {"gas": "nights", "D09-gas": "city"},
            },
            [],
            shipped_reference.directory,
            source="c",
        )
    problems = raised.value.problems
    assert "calendar city: weekdays must be a list of mon, tue, wed, thu, fri, sat, sun" in problems
    assert "calendar city: working hours overlap" in problems
    assert "calendar late: working hours '25:00-26:00' are not a span within one day" in problems
    assert "top level: default 'office' is not a calendar defined here" in problems
    assert "departments.gas: unknown calendar 'nights'" in problems
    assert "departments.D09-gas: neither a department type nor a department id" in problems


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
