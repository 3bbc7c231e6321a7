"""The reference data dispatch routes with, loaded once when the service starts."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.domain.departments import DepartmentDirectory
from dispatch.domain.matrix import ResponsibilityMatrix
from svckit.reference import Catalogue, CityMap


@dataclass(frozen=True)
class ReferenceData:
    """The city map (points → districts) and the matrix (with its catalogue and departments)."""

    city_map: CityMap
    matrix: ResponsibilityMatrix

    @property
    def catalogue(self) -> Catalogue:
        return self.matrix.catalogue

    @property
    def directory(self) -> DepartmentDirectory:
        return self.matrix.directory
