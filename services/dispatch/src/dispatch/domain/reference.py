"""The reference data dispatch works with, loaded once when the service starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from dispatch.domain.context import MatrixContext
from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.matrix import CatalogueDocument, ResponsibilityMatrix
from dispatch.domain.teams import DepartmentTeams
from dispatch.domain.versions import Segment
from svckit.calendars import CalendarBook
from svckit.reference import Catalogue, CityMap


@dataclass(frozen=True)
class ReferenceData:
    """City map, departments, calendars, teams, and the responsibility file as read.

    The file seeds the managed catalogue (which lives in the store and may
    have changed over gRPC since); ``matrix`` is the file alone, for the
    command line and for checking a file before deploying it.
    """

    document: CatalogueDocument
    calendars: CalendarBook
    teams: Mapping[str, DepartmentTeams] = field(default_factory=dict)

    @property
    def context(self) -> MatrixContext:
        return self.document.context

    @property
    def city_map(self) -> CityMap:
        return self.context.city_map

    @property
    def catalogue(self) -> Catalogue:
        return self.context.catalogue

    @property
    def directory(self) -> DepartmentDirectory:
        return self.context.directory

    @cached_property
    def matrix(self) -> ResponsibilityMatrix:
        """The file's rules alone, every one at version 1 (validated on first use)."""
        segments = [Segment(rule, 1) for rule in self.document.rules]
        return ResponsibilityMatrix(segments, self.context, source="responsibility file")
