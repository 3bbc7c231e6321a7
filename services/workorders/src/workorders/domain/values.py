"""Small immutable values the order and its evidence share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    """Where the incident is, as dispatch resolved it."""

    latitude: float | None = None
    longitude: float | None = None
    district_code: str = ""
    street_code: str = ""
    grid_code: str = ""

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class Evidence:
    """A file held in a store, pinned by its hash so it cannot be swapped."""

    uri: str
    sha256: str
    media_type: str = ""
    size_bytes: int = 0
