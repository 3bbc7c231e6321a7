"""Requests the service layer answers, independent of gRPC or the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WhoWouldReceive:
    """Who would receive a case of ``category_code`` at this point at ``at`` (``None``: now)."""

    category_code: str
    latitude: float
    longitude: float
    at: datetime | None = None


@dataclass(frozen=True)
class GetDispatch:
    """The dispatch decision recorded for a case."""

    case_id: str
