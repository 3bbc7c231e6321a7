"""EXIF capture time and GPS position of a photo, read with Pillow.

Only the metadata is parsed (Pillow's `open` reads headers; no pixel data is
decoded), so a decompression bomb costs nothing here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from svckit.errors import InvalidArgumentError
from workorders.domain.evidence import PhotoMetadata

_EXIF_TIME = "%Y:%m:%d %H:%M:%S"


def read_photo_metadata(content: bytes, default_zone: tzinfo) -> PhotoMetadata:
    """The photo's DateTimeOriginal (with OffsetTimeOriginal, else
    `default_zone`, the city's zone) and GPS position, each None when absent
    or unreadable. A file Pillow cannot open at all is refused."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidArgumentError(f"the image cannot be read: {exc}") from exc
    details = exif.get_ifd(ExifTags.IFD.Exif)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    latitude = _coordinate(gps, ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLatitudeRef, "S", 90)
    longitude = _coordinate(gps, ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSLongitudeRef, "W", 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    return PhotoMetadata(
        captured_at=_captured_at(details, default_zone),
        latitude=latitude,
        longitude=longitude,
    )


def _captured_at(details: dict[int, Any], default_zone: tzinfo) -> datetime | None:
    raw = details.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 "), _EXIF_TIME)
    except ValueError:
        return None
    zone = _offset(details.get(ExifTags.Base.OffsetTimeOriginal)) or default_zone
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _offset(raw: object) -> tzinfo | None:
    """EXIF 2.31 OffsetTimeOriginal, '+08:00'."""
    if not isinstance(raw, str) or len(raw.strip()) != 6:
        return None
    text = raw.strip()
    try:
        sign = {"+": 1, "-": -1}[text[0]]
        hours, minutes = int(text[1:3]), int(text[4:6])
    except (KeyError, ValueError):
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _coordinate(
    gps: dict[int, Any], value_tag: int, ref_tag: int, negative: str, limit: float
) -> float | None:
    """Degrees/minutes/seconds rationals → signed decimal degrees."""
    value, ref = gps.get(value_tag), gps.get(ref_tag)
    if not isinstance(value, Sequence) or len(value) != 3 or not isinstance(ref, str):
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(decimal):  # Pillow reads x/0 rationals as NaN
        return None
    if ref.strip().upper() == negative:
        decimal = -decimal
    return decimal if abs(decimal) <= limit else None
