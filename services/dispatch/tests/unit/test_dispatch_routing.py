"""Routing a case: dispatched, or unroutable with the reason; and the what-if answer."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from dispatch.domain import commands
from dispatch.domain.areas import Place
from dispatch.domain.dispatching import Unroutable, route_case
from dispatch.domain.model import CaseFile, CaseState
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer.routing import answer, locate
from svckit.errors import InvalidArgumentError, NotFoundError

NOW = datetime(2026, 3, 2, 2, tzinfo=UTC)
IN_D02 = (31.23, 121.45)


def case(category: str, place: Place) -> CaseFile:
    return CaseFile("C-1", category, place, "t", "default", CaseState.UNROUTABLE, NOW, NOW)


@pytest.mark.parametrize(
    ("category", "district", "reason"),
    [
        ("E9999", "D02", "unknown category code 'E9999'"),
        ("E0105", "D42", "unknown district code 'D42'"),
        ("E0105", "", "the case's place has no district"),
    ],
)
def test_cases_that_cannot_be_routed_say_why(
    shipped_reference: ReferenceData, category: str, district: str, reason: str
) -> None:
    outcome = route_case(shipped_reference.matrix, case(category, Place(district)), NOW)
    assert outcome == Unroutable(reason)


def test_a_missing_district_street_and_grid_are_located_from_the_point(
    shipped_reference: ReferenceData,
) -> None:
    found = locate(Place("", point=IN_D02), shipped_reference.city_map)
    assert found.district_code == "D02" and found.street_code and found.grid_code
    elsewhere = locate(Place("D01", point=IN_D02), shipped_reference.city_map)
    assert elsewhere == Place("D01", point=IN_D02)  # the filed district is not overruled


def test_who_would_receive_answers_with_the_place(shipped_reference: ReferenceData) -> None:
    query = commands.WhoWouldReceive("E0105", *IN_D02, datetime(2026, 1, 1, tzinfo=UTC))
    found = answer(query, shipped_reference.matrix, shipped_reference.city_map, NOW)
    assert found.district_code == "D02" and found.place.grid_code.startswith("D02")
    assert found.decision.department_id == "D02-transport"


@pytest.mark.parametrize(
    ("category", "lat", "lon", "error", "message"),
    [
        ("E9999", *IN_D02, InvalidArgumentError, "unknown category"),
        ("E0105", 39.9, 116.4, InvalidArgumentError, "outside Sample City"),
        ("E0105", math.nan, 121.45, InvalidArgumentError, "finite"),
    ],
)
def test_who_would_receive_refuses_wrong_questions(
    shipped_reference: ReferenceData,
    category: str,
    lat: float,
    lon: float,
    error: type[Exception],
    message: str,
) -> None:
    query = commands.WhoWouldReceive(category, lat, lon)
    with pytest.raises(error, match=message):
        answer(query, shipped_reference.matrix, shipped_reference.city_map, NOW)


def test_who_would_receive_before_any_rule_is_not_found(shipped_reference: ReferenceData) -> None:
    query = commands.WhoWouldReceive("E0105", *IN_D02, datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(NotFoundError, match="no responsibility rule covers E0105 in D02"):
        answer(query, shipped_reference.matrix, shipped_reference.city_map, NOW)
