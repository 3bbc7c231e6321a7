"""Fixtures shared by dispatch's tests: the shipped reference data, loaded once."""

from __future__ import annotations

import pytest

from dispatch.adapters.reference_files import load_reference
from dispatch.domain.reference import ReferenceData


@pytest.fixture(scope="session")
def shipped_reference() -> ReferenceData:
    """The repository's config/: catalogue, sample city, departments, matrix, calendars, teams."""
    return load_reference()
