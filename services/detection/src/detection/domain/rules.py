"""Whether a source's report becomes a `Detection`, and which one.

Every problem in a report is collected and reported at once, each naming the
field (a dotted path such as ``evidence.0.sha256``), so an integrator fixes a
payload in one round trip. The rules are pure: the catalogue and the city map
are handed in, and time is a parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from detection.domain.commands import EvidenceInput, ReportDetection
from detection.domain.geometry import area_problems
from detection.domain.model import (
    Certainty,
    Detection,
    DetectionStatus,
    EvidenceRef,
    ImageRegion,
    Place,
    SensorReading,
    Severity,
    SourceKind,
    Urgency,
    WithdrawalKind,
)
from detection.domain.problems import FieldProblem, InvalidReportError, clean_text, has_control
from svckit.errors import FailedPreconditionError
from svckit.reference import Catalogue, CityMap

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 128
MAX_DESCRIPTION_CHARS = 2000
MAX_URI_CHARS = 2048
MAX_EVIDENCE = 20
MAX_SIZE_BYTES = 2**63 - 1  # int64 in the contract

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# CAP 1.1's "Very Likely" is deprecated by CAP 1.2, which says to treat it as "Likely".
_CAP_ALIASES: dict[str, StrEnum] = {"very likely": Certainty.LIKELY}

E = TypeVar("E", bound=StrEnum)


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
    vendor = clean_text("vendor", report.vendor, MAX_TEXT_CHARS, problems)
    device_id = clean_text("device_id", report.device_id, MAX_TEXT_CHARS, problems)
    model_name = clean_text("model_name", report.model_name, MAX_TEXT_CHARS, problems)
    model_version = clean_text("model_version", report.model_version, MAX_TEXT_CHARS, problems)
    description = clean_text("description", report.description, MAX_DESCRIPTION_CHARS, problems)
    source_code = clean_text("source_code", report.source_code, MAX_TEXT_CHARS, problems)
    component_id = clean_text("component_id", report.component_id, MAX_TEXT_CHARS, problems)
    if report.area is not None:
        problems += area_problems(report.area)
    _region_problems(report.region, problems)
    _reading_problems(report.reading, problems)
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
        source_code=source_code,
        component_id=component_id,
        area=report.area,
        region=report.region,
        reading=report.reading,
        exercise=report.exercise,
    )


def withdraw(detection: Detection, kind: WithdrawalKind, reason: str, at: datetime) -> Detection:
    """The detection withdrawn; only an active detection can be (once)."""
    if detection.status is not DetectionStatus.ACTIVE:
        raise FailedPreconditionError(
            f"detection {detection.detection_id} is {detection.status.value}, not active"
        )
    # The reason is the source's own words: kept readable, never a cause for refusal.
    text = "".join(c for c in reason if not has_control(c, allowed="\n\t"))
    text = text.strip()[:MAX_DESCRIPTION_CHARS]
    return replace(
        detection,
        status=DetectionStatus.WITHDRAWN,
        withdrawn_at=at.astimezone(UTC),
        withdrawal_kind=kind,
        withdrawal_reason=text,
    )


def supersede(detection: Detection) -> Detection:
    """The detection replaced by a later report (CAP Update); only an active one can be."""
    if detection.status is not DetectionStatus.ACTIVE:
        raise FailedPreconditionError(
            f"detection {detection.detection_id} is {detection.status.value}, not active"
        )
    return replace(detection, status=DetectionStatus.SUPERSEDED)


def source_id_from(prefix: str, name: str) -> str:
    """A source id for a name a foreign format gives (a CAP sender, a CloudEvents
    source URI): `prefix/` + the name with '%' and ':' percent-escaped, because an
    idempotency key is `source_id:event_id` and ':' is its separator."""
    return f"{prefix}/" + name.replace("%", "%25").replace(":", "%3A")


def parse_time(
    value: str,
    received_at: datetime,
    skew: timedelta,
    problems: list[FieldProblem],
    name: str = "observed_at",
) -> datetime | None:
    """An ISO 8601 time with a zone offset, in UTC, at most `skew` ahead of receipt."""
    return _observed_at(value, received_at, skew, problems, name)


def _identity_problems(source_id: str, source_event_id: str) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for name, value in (("source_id", source_id), ("source_event_id", source_event_id)):
        if not value.strip():
            problems.append(FieldProblem(name, "is required"))
        elif value != value.strip():
            problems.append(FieldProblem(name, "must not start or end with whitespace"))
        elif len(value) > MAX_ID_CHARS:
            problems.append(FieldProblem(name, f"must be at most {MAX_ID_CHARS} characters"))
        elif has_control(value):
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
    value: str,
    received_at: datetime,
    skew: timedelta,
    problems: list[FieldProblem],
    name: str = "observed_at",
) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(FieldProblem(name, f"not an ISO 8601 date-time: {value!r}"))
        return None
    if when.utcoffset() is None:
        problems.append(FieldProblem(name, "needs a zone offset (e.g. Z or +08:00)"))
        return None
    try:
        when = when.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC date
        problems.append(FieldProblem(name, f"out of range: {value!r}"))
        return None
    ahead = when - received_at
    if ahead > skew:
        problems.append(
            FieldProblem(
                name,
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
        if not uri or len(uri) > MAX_URI_CHARS or has_control(uri) or not urlsplit(uri).scheme:
            problems.append(
                FieldProblem(f"{at}.uri", f"must be an absolute URI of at most {MAX_URI_CHARS}")
            )
        sha256 = "" if item.sha256 is None else item.sha256.strip().lower()
        if item.sha256 is not None and not _SHA256.match(sha256):
            problems.append(FieldProblem(f"{at}.sha256", "must be 64 hex digits"))
        sha1 = item.sha1.strip().lower()
        if sha1 and not _SHA1.match(sha1):
            problems.append(FieldProblem(f"{at}.sha1", "must be 40 hex digits"))
        media_type = item.media_type.strip().lower()
        if not _MEDIA_TYPE.match(media_type):
            problems.append(FieldProblem(f"{at}.media_type", "must be type/subtype"))
        size = 0 if item.size_bytes is None else item.size_bytes
        if item.size_bytes is not None and not 0 < size <= MAX_SIZE_BYTES:
            problems.append(FieldProblem(f"{at}.size_bytes", "must be a positive int64 byte count"))
        refs.append(EvidenceRef(uri, sha256, media_type, size, sha1))
    return tuple(refs)


def _region_problems(region: ImageRegion | None, problems: list[FieldProblem]) -> None:
    if region is None:
        return
    values = (region.x, region.y, region.width, region.height)
    inside = all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
    # A little slack: vendors round each value on its own.
    if not inside or region.x + region.width > 1.001 or region.y + region.height > 1.001:
        problems.append(
            FieldProblem("region", "must be x, y, width, height as fractions (0..1) of the image")
        )


def _reading_problems(reading: SensorReading | None, problems: list[FieldProblem]) -> None:
    if reading is None:
        return
    if not (math.isfinite(reading.value) and math.isfinite(reading.threshold)):
        problems.append(FieldProblem("reading", "value and threshold must be finite numbers"))
    clean_text("reading.metric", reading.metric, MAX_TEXT_CHARS, problems)
    clean_text("reading.unit", reading.unit, MAX_TEXT_CHARS, problems)


__all__ = [
    "FieldProblem",
    "IngestPolicy",
    "InvalidReportError",
    "idempotency_key",
    "normalise",
    "parse_cap",
    "parse_time",
    "source_id_from",
    "supersede",
    "withdraw",
]
