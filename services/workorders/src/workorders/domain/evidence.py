"""Evidence a department uploads: what it may be, where it is kept, and the
provenance checks (EXIF time and place) that flag a doubtful photo.

A doubtful photo is flagged, never silently accepted and never silently
rejected: the verifier (核查) sees the flags and decides. Pure functions; the
EXIF parsing and the object store are adapters.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath

from svckit.errors import InvalidArgumentError
from workorders.domain.values import Evidence, Place

URI_SCHEME = "nats-os"
MAX_FILE_NAME_CHARS = 200
EARTH_RADIUS_M = 6_371_008.8


class EvidenceKind(StrEnum):
    """What a file shows; the photo kinds are the catalogue's 结案条件 values."""

    BEFORE_PHOTO = "before_photo"
    AFTER_PHOTO = "after_photo"
    OTHER = "other"


PHOTO_KINDS = frozenset({EvidenceKind.BEFORE_PHOTO, EvidenceKind.AFTER_PHOTO})


class FlagCode(StrEnum):
    CAPTURE_TIME_MISSING = "capture_time_missing"
    CAPTURE_LOCATION_MISSING = "capture_location_missing"
    LOCATION_MISMATCH = "location_mismatch"
    TIME_OUTSIDE_WINDOW = "time_outside_window"
    INTEGRITY_MISMATCH = "integrity_mismatch"


@dataclass(frozen=True)
class Flag:
    """A check that did not pass, kept on the evidence for the verifier."""

    code: FlagCode
    detail: str


@dataclass(frozen=True)
class PhotoMetadata:
    """What the file says about itself (EXIF), where it says anything."""

    captured_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class EvidencePolicy:
    """The limits and thresholds of uploads (from settings)."""

    media_types: frozenset[str]
    max_bytes: int
    max_distance_m: float
    # A before-photo may be taken a little before the order existed (the site visit).
    slack_before: timedelta
    # Cameras' clocks run a little ahead.
    clock_skew: timedelta


@dataclass(frozen=True)
class EvidenceItem:
    """One uploaded file of one order; immutable apart from integrity flags."""

    evidence_id: str
    order_id: str
    case_id: str
    department_id: str
    kind: EvidenceKind
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str
    bucket: str
    key: str
    uploaded_at: datetime
    uploaded_by: str
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    flags: tuple[Flag, ...] = ()

    @property
    def uri(self) -> str:
        return evidence_uri(self.bucket, self.key)

    def ref(self) -> Evidence:
        return Evidence(self.uri, self.sha256, self.media_type, self.size_bytes)

    def with_flag(self, flag: Flag) -> EvidenceItem:
        """This item with `flag` added once (a flag found twice is one flag)."""
        if any(f.code is flag.code for f in self.flags):
            return self
        return replace(self, flags=(*self.flags, flag))


# Magic numbers of the types the platform accepts; a declared type must match them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff_media_type(content: bytes) -> str | None:
    """The media type the bytes start like, or None."""
    for magic, media_type in _MAGIC:
        if content.startswith(magic):
            return media_type
    return None


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_upload(
    policy: EvidencePolicy, *, file_name: str, media_type: str, content: bytes, kind: EvidenceKind
) -> str:
    """Refuse what the store must never hold; returns the file name to keep
    (its last path component: a name, never a path)."""
    name = PureWindowsPath(PurePosixPath(file_name.strip()).name).name.strip()
    if not name:
        raise InvalidArgumentError("evidence needs a file_name")
    if len(name) > MAX_FILE_NAME_CHARS:
        raise InvalidArgumentError(f"file_name exceeds {MAX_FILE_NAME_CHARS} characters")
    if not content:
        raise InvalidArgumentError("evidence content is empty")
    if len(content) > policy.max_bytes:
        raise InvalidArgumentError(
            f"evidence is {len(content)} bytes; the limit is {policy.max_bytes}"
        )
    if media_type not in policy.media_types:
        allowed = ", ".join(sorted(policy.media_types))
        raise InvalidArgumentError(f"media type {media_type!r} is not accepted ({allowed})")
    sniffed = sniff_media_type(content)
    if sniffed != media_type:
        raise InvalidArgumentError(
            f"content is {sniffed or 'of an unknown type'}, not the declared {media_type}"
        )
    if kind in PHOTO_KINDS and not media_type.startswith("image/"):
        raise InvalidArgumentError(f"a {kind} must be an image, not {media_type}")
    return name


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); metres matter here, not millimetres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def provenance_flags(
    meta: PhotoMetadata,
    place: Place | None,
    *,
    earliest: datetime,
    latest: datetime,
    max_distance_m: float,
) -> tuple[Flag, ...]:
    """Flags for a photo whose EXIF says it was taken elsewhere or at another
    time than the order's (or says nothing about it)."""
    flags: list[Flag] = []
    if meta.captured_at is None:
        flags.append(Flag(FlagCode.CAPTURE_TIME_MISSING, "no EXIF DateTimeOriginal"))
    elif not earliest <= meta.captured_at <= latest:
        flags.append(
            Flag(
                FlagCode.TIME_OUTSIDE_WINDOW,
                f"taken {meta.captured_at.isoformat()}, outside "
                f"{earliest.isoformat()} … {latest.isoformat()}",
            )
        )
    if meta.latitude is None or meta.longitude is None:
        flags.append(Flag(FlagCode.CAPTURE_LOCATION_MISSING, "no EXIF GPS position"))
    elif place is not None and place.latitude is not None and place.longitude is not None:
        metres = distance_m(meta.latitude, meta.longitude, place.latitude, place.longitude)
        if metres > max_distance_m:
            flags.append(
                Flag(
                    FlagCode.LOCATION_MISMATCH,
                    f"taken {metres:.0f} m from the case (limit {max_distance_m:.0f} m)",
                )
            )
    return tuple(flags)


def missing_evidence(
    required: Sequence[str], items: Iterable[EvidenceItem], *, since: datetime | None
) -> tuple[str, ...]:
    """The required kinds (结案条件) no upload covers, in the catalogue's order.

    After a rework (`since` = reopened_at) the after-photo must be new: the old
    one shows the work the verifier rejected.
    """
    have = {
        item.kind.value
        for item in items
        if not (item.kind is EvidenceKind.AFTER_PHOTO and since and item.uploaded_at < since)
    }
    return tuple(kind for kind in required if kind not in have)


def evidence_id_for(order_id: str, request_id: str) -> str:
    """An upload's id, derived from its request: a retried upload writes the
    same object again instead of leaving an orphan beside it."""
    digest = hashlib.sha256(f"{order_id}\x00{request_id}".encode()).hexdigest()[:32]
    return f"EV-{digest}"


def object_key(order_id: str, evidence_id: str) -> str:
    """Where the file lives in the bucket: grouped by order."""
    return f"{order_id}/{evidence_id}"


def evidence_uri(bucket: str, key: str) -> str:
    return f"{URI_SCHEME}://{bucket}/{key}"


def is_store_uri(uri: str) -> bool:
    return uri.startswith(f"{URI_SCHEME}://")


class EvidenceIntegrityError(Exception):
    """The stored file is gone or no longer has the hash recorded at upload.

    Not a DomainError on purpose: it is no fault of the request, and the API
    reports it as DATA_LOSS rather than as a refusal.
    """
