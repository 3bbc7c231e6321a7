"""Open311 GeoReport v2 for citizens and the 12345 hotline, mapped onto intake.

The service list is the catalogue's 小类; a request becomes a case filed by
hand. Case states collapse to Open311's two: open and closed. Validation here
turns bad input into InvalidArgumentError, which the endpoint answers in
Open311's error format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from console.domain.states import FINAL_CASE_STATES
from svckit.errors import InvalidArgumentError, NotFoundError
from svckit.reference import Catalogue, Category

MAX_TITLE = 200  # intake's title limit
MAX_DESCRIPTION = 4000
MAX_FIELD = 200
MAX_IDS = 50
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "device_id", "account_id")


def status_of(case_state: str) -> str:
    """Open311 has two states. Backlogged (挂账) cases are still the city's to solve: open."""
    return "closed" if case_state in FINAL_CASE_STATES else "open"


def states_for_status(status: str) -> tuple[bool, bool]:
    """(include open, include closed) for Open311's `status` filter (comma-separated)."""
    wanted = {s.strip().lower() for s in status.split(",") if s.strip()}
    if not wanted:
        return True, True
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise InvalidArgumentError(f"status must be open and/or closed, not {sorted(unknown)}")
    return "open" in wanted, "closed" in wanted


def service_definition(category: Category, lang: str) -> dict[str, Any]:
    english = lang == "en"
    return {
        "service_code": category.code,
        "service_name": category.name_en if english else category.name_zh,
        "description": category.filing_criteria_en if english else category.filing_criteria_zh,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(
            [category.major_name_en, category.name_en]
            if english
            else [category.major_name_zh, category.name_zh]
        ),
        "group": category.major_name_en if english else category.major_name_zh,
    }


def find_service(catalogue: Catalogue, code: str) -> Category:
    category = catalogue.find(code)
    if category is None:
        raise NotFoundError(f"service_code {code!r} is not in the catalogue")
    return category


@dataclass(frozen=True)
class Submission:
    """A citizen's request, validated."""

    service_code: str
    latitude: float
    longitude: float
    description: str
    address_string: str
    media_url: str
    contact: Mapping[str, str]

    @property
    def title(self) -> str:
        """The case title: the description's first line, cut to intake's limit."""
        first = self.description.strip().splitlines()[0] if self.description.strip() else ""
        return first if len(first) <= MAX_TITLE else first[: MAX_TITLE - 1] + "…"


@dataclass(frozen=True)
class Extra:
    """What the console kept of a request beyond the case (contact details are never served)."""

    description: str
    address_string: str
    media_url: str


def _coordinate(form: Mapping[str, str], name: str, bound: float) -> float:
    raw = (form.get(name) or "").strip()
    if not raw:
        raise InvalidArgumentError(f"{name} is required")
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidArgumentError(f"{name} must be a number, not {raw[:40]!r}") from exc
    if not math.isfinite(value) or abs(value) > bound:
        raise InvalidArgumentError(f"{name} must be between -{bound:g} and {bound:g}")
    return value


def _text(form: Mapping[str, str], name: str, limit: int) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > limit:
        raise InvalidArgumentError(f"{name} is longer than {limit} characters")
    return value


def parse_submission(form: Mapping[str, str], catalogue: Catalogue) -> Submission:
    """A POST requests.json form, checked: known service, a point, sane text."""
    code = (form.get("service_code") or "").strip()
    if not code:
        raise InvalidArgumentError("service_code is required")
    if catalogue.find(code) is None:
        raise InvalidArgumentError(f"service_code {code!r} is not in the catalogue")
    latitude = _coordinate(form, "lat", 90.0)
    longitude = _coordinate(form, "long", 180.0)
    media_url = _text(form, "media_url", 2000)
    if media_url and urlsplit(media_url).scheme not in ("http", "https"):
        raise InvalidArgumentError("media_url must be an http(s) URL")
    return Submission(
        service_code=code,
        latitude=latitude,
        longitude=longitude,
        description=_text(form, "description", MAX_DESCRIPTION),
        address_string=_text(form, "address_string", MAX_FIELD),
        media_url=media_url,
        contact={k: _text(form, k, MAX_FIELD) for k in CONTACT_FIELDS if form.get(k)},
    )


def parse_ids(raw: str) -> list[str]:
    ids = [i.strip() for i in raw.split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise InvalidArgumentError(f"at most {MAX_IDS} service_request_id values at once")
    return ids


def parse_date(raw: str, name: str) -> datetime | None:
    """ISO 8601 / W3C date-time with an offset, as GeoReport v2 requires."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidArgumentError(f"{name} must be a W3C date-time, not {raw[:40]!r}") from exc
    if value.tzinfo is None:
        raise InvalidArgumentError(f"{name} needs a UTC offset")
    return value
