"""Whether a source's report becomes a `Detection`, and which one.

Every problem in a report is collected and reported at once, each naming the
field (a dotted path such as ``evidence.0.sha256``), so an integrator fixes a
payload in one round trip. The rules are pure: the catalogue and the city map
are handed in, and time is a parameter.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from detection.domain.commands import EvidenceInput, ReportDetection
from detection.domain.model import (
    Certainty,
    Detection,
    EvidenceRef,
    Place,
    Severity,
    SourceKind,
    Urgency,
)
from svckit.errors import InvalidArgumentError
from svckit.reference import Catalogue, CityMap

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 128
MAX_DESCRIPTION_CHARS = 2000
MAX_URI_CHARS = 2048
MAX_EVIDENCE = 20
MAX_SIZE_BYTES = 2**63 - 1  # int64 in the contract

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# CAP 1.1's "Very Likely" is deprecated by CAP 1.2, which says to treat it as "Likely".
_CAP_ALIASES: dict[str, StrEnum] = {"very likely": Certainty.LIKELY}

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a report; `field` is "" when no single field is at fault."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class InvalidReportError(InvalidArgumentError):
    """The report is refused; `problems` lists every reason, each naming its field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid detection report: " + "; ".join(map(str, self.problems)))


@dataclass(frozen=True)
class IngestPolicy:
    """The reference data and limits a report is judged against."""

    catalogue: Catalogue
    city: CityMap
    max_future_skew: timedelta


def idempotency_key(source_id: str, source_event_id: str) -> str:
    """The identity of a source event: the same alarm posted twice is one detection."""
    problems = _identity_problems(source_id, source_event_id)
    if problems:
        raise InvalidReportError(problems)
    return f"{source_id}:{source_event_id}"


def parse_cap(kind: type[E], word: str) -> E:
    """A CAP word ("Immediate", "severe", "Very Likely") as its enum member; ValueError if none."""
    wanted = " ".join(word.split()).casefold()
    alias = _CAP_ALIASES.get(wanted)
    if isinstance(alias, kind):
        return alias
    for member in kind:
        if member.value.casefold() == wanted:
            return member
    raise ValueError(f"must be one of {', '.join(m.value for m in kind)} (got {word!r})")


def normalise(
    report: ReportDetection, policy: IngestPolicy, *, detection_id: str, received_at: datetime
) -> Detection:
    """The report as a `Detection`, or `InvalidReportError` listing every problem."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be aware")
    problems = _identity_problems(report.source_id, report.source_event_id)
    kind = _source_kind(report.source_kind, problems)
    if report.category_code not in policy.catalogue:
        problems.append(
            FieldProblem("category_code", f"unknown 小类 code {report.category_code!r}")
        )
    place = _place(report.latitude, report.longitude, policy.city, problems)
    observed_at = _observed_at(report.observed_at, received_at, policy.max_future_skew, problems)
    if not (math.isfinite(report.confidence) and 0.0 <= report.confidence <= 1.0):
        problems.append(FieldProblem("confidence", "must be between 0 and 1"))
    urgency = _optional_cap(Urgency, "urgency", report.urgency, problems)
    severity = _optional_cap(Severity, "severity", report.severity, problems)
    certainty = _optional_cap(Certainty, "certainty", report.certainty, problems)
    evidence = _evidence(report.evidence, problems)
    vendor = _text("vendor", report.vendor, MAX_TEXT_CHARS, problems)
    device_id = _text("device_id", report.device_id, MAX_TEXT_CHARS, problems)
    model_name = _text("model_name", report.model_name, MAX_TEXT_CHARS, problems)
    model_version = _text("model_version", report.model_version, MAX_TEXT_CHARS, problems)
    description = _text("description", report.description, MAX_DESCRIPTION_CHARS, problems)
    if not _SHA256.match(report.raw_payload_sha256):
        problems.append(FieldProblem("raw_payload_sha256", "must be 64 lowercase hex digits"))
    if problems or kind is None or place is None or observed_at is None:
        raise InvalidReportError(problems)
    return Detection(
        detection_id=detection_id,
        idempotency_key=f"{report.source_id}:{report.source_event_id}",
        source_kind=kind,
        source_id=report.source_id,
        source_event_id=report.source_event_id,
        observed_at=observed_at,
        received_at=received_at.astimezone(UTC),
        place=place,
        category_code=report.category_code,
        confidence=report.confidence,
        raw_payload_sha256=report.raw_payload_sha256,
        description=description,
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        evidence=evidence,
        vendor=vendor,
        device_id=device_id,
        model_name=model_name,
        model_version=model_version,
    )


def _identity_problems(source_id: str, source_event_id: str) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for name, value in (("source_id", source_id), ("source_event_id", source_event_id)):
        if not value.strip():
            problems.append(FieldProblem(name, "is required"))
        elif value != value.strip():
            problems.append(FieldProblem(name, "must not start or end with whitespace"))
        elif len(value) > MAX_ID_CHARS:
            problems.append(FieldProblem(name, f"must be at most {MAX_ID_CHARS} characters"))
        elif _has_control(value):
            problems.append(
                FieldProblem(name, "must not contain control characters or invalid Unicode")
            )
    # The key joins the two with ":"; a ":" in source_id would make two sources' keys collide.
    if ":" in source_id:
        problems.append(FieldProblem("source_id", "must not contain ':'"))
    return problems


def _source_kind(value: str, problems: list[FieldProblem]) -> SourceKind | None:
    try:
        return SourceKind(value.strip().casefold())
    except ValueError:
        allowed = ", ".join(k.value for k in SourceKind)
        problems.append(FieldProblem("source_kind", f"must be one of {allowed} (got {value!r})"))
        return None


def _place(lat: float, lon: float, city: CityMap, problems: list[FieldProblem]) -> Place | None:
    in_range = True
    for name, value, limit in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        if not (math.isfinite(value) and -limit <= value <= limit):
            problems.append(FieldProblem(name, f"must be between -{limit:g} and {limit:g}"))
            in_range = False
    if not in_range:
        return None
    location = city.locate(lat, lon)
    if location is None:
        where = city.name_en or "the city"
        problems.append(
            FieldProblem(
                "", f"latitude/longitude ({lat}, {lon}) lie outside {where}: no grid contains them"
            )
        )
        return None
    return Place(lat, lon, location.district_code, location.street_code, location.grid_code)


def _observed_at(
    value: str, received_at: datetime, skew: timedelta, problems: list[FieldProblem]
) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(FieldProblem("observed_at", f"not an ISO 8601 date-time: {value!r}"))
        return None
    if when.utcoffset() is None:
        problems.append(FieldProblem("observed_at", "needs a zone offset (e.g. Z or +08:00)"))
        return None
    try:
        when = when.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC date
        problems.append(FieldProblem("observed_at", f"out of range: {value!r}"))
        return None
    ahead = when - received_at
    if ahead > skew:
        problems.append(
            FieldProblem(
                "observed_at",
                f"is {ahead.total_seconds():.0f}s in the future; at most "
                f"{skew.total_seconds():.0f}s of clock skew is allowed",
            )
        )
        return None
    return when


def _optional_cap(
    kind: type[E], name: str, word: str | None, problems: list[FieldProblem]
) -> E | None:
    if word is None or not word.strip():
        return None
    try:
        return parse_cap(kind, word)
    except ValueError as exc:
        problems.append(FieldProblem(name, str(exc)))
        return None


def _evidence(
    items: Sequence[EvidenceInput], problems: list[FieldProblem]
) -> tuple[EvidenceRef, ...]:
    if len(items) > MAX_EVIDENCE:
        problems.append(FieldProblem("evidence", f"at most {MAX_EVIDENCE} items"))
        return ()
    refs = []
    for index, item in enumerate(items):
        at = f"evidence.{index}"
        uri = item.uri.strip()
        if not uri or len(uri) > MAX_URI_CHARS or _has_control(uri) or not urlsplit(uri).scheme:
            problems.append(
                FieldProblem(f"{at}.uri", f"must be an absolute URI of at most {MAX_URI_CHARS}")
            )
        sha256 = item.sha256.strip().lower()
        if not _SHA256.match(sha256):
            problems.append(FieldProblem(f"{at}.sha256", "must be 64 hex digits"))
        media_type = item.media_type.strip().lower()
        if not _MEDIA_TYPE.match(media_type):
            problems.append(FieldProblem(f"{at}.media_type", "must be type/subtype"))
        if not 0 < item.size_bytes <= MAX_SIZE_BYTES:
            problems.append(FieldProblem(f"{at}.size_bytes", "must be a positive int64 byte count"))
        refs.append(EvidenceRef(uri, sha256, media_type, item.size_bytes))
    return tuple(refs)


def _text(name: str, value: str, limit: int, problems: list[FieldProblem]) -> str:
    text = value.strip()
    if len(text) > limit:
        problems.append(FieldProblem(name, f"must be at most {limit} characters"))
    elif _has_control(text, allowed="\n\t"):
        problems.append(
            FieldProblem(name, "must not contain control characters or invalid Unicode")
        )
    return text


def _has_control(text: str, allowed: str = "") -> bool:
    """Control characters (NUL breaks PostgreSQL text) and lone surrogates (not
    encodable as UTF-8, so neither storable nor sendable) are refused at the door."""
    return any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text)
