"""What intake is asked to do, already translated out of protos."""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.model import Place


@dataclass(frozen=True)
class FileFromDetection:
    """A detection reported by a source: becomes a case unless already linked to one."""

    detection_id: str
    source_id: str
    category_code: str
    place: Place | None
    urgency: int


@dataclass(frozen=True)
class FileByHand:
    """An operator, inspector or hotline agent files a case (CreateCase)."""

    request_id: str
    category_code: str
    title: str
    # None when the request carried no point at all.
    latitude: float | None
    longitude: float | None
    urgency: int
