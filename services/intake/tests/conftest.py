"""Fixtures shared by intake's tests: the repository's own reference data."""

from __future__ import annotations

import random

import pytest

from intake.bootstrap import load_reference
from intake.config import IntakeSettings
from intake.domain.filing import Reference


@pytest.fixture(scope="session")
def ref() -> Reference:
    """The catalogue and sample city from config/ (the files the service ships with)."""
    return load_reference(IntakeSettings())


@pytest.fixture(scope="session")
def inside(ref: Reference) -> tuple[float, float]:
    """A (latitude, longitude) inside the sample city."""
    return ref.city_map.random_point(random.Random(7))
