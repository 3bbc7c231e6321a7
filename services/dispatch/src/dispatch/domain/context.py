"""What the responsibility matrix is checked against and resolves with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.stages import StageTable
from svckit.reference import Catalogue, CityMap


@dataclass(frozen=True)
class MatrixContext:
    """What rules are checked against and resolved with; fixed while the service runs."""

    catalogue: Catalogue
    directory: DepartmentDirectory
    city_map: CityMap
    timezone: tzinfo
    # Catalogue-wide stage hours and fallbacks (the responsibility file's top level).
    deadlines: StageTable = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()
    version: str = ""

    __hash__ = None  # type: ignore[assignment]

    def local_date(self, at: datetime) -> date:
        """The city's calendar date at an instant (rules are dated in local time)."""
        if at.tzinfo is None:
            raise ValueError("routing needs an aware datetime; use svckit.clock.utcnow()")
        return at.astimezone(self.timezone).date()
