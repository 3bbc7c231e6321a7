"""Photos as a department's phone takes them: a small JPEG (or PNG) whose EXIF
carries the capture time and GPS position, for the simulator, the e2e suite
and the work-order tests."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image

CITY_ZONE = ZoneInfo("Asia/Shanghai")


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def _fixed_zone(offset: str) -> timezone:
    sign = 1 if offset[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))


def field_photo(
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    taken_at: datetime | None = None,
    offset: str | None = "+08:00",
    image_format: str = "JPEG",
    color: tuple[int, int, int] = (180, 40, 40),
) -> bytes:
    """A small image whose EXIF carries DateTimeOriginal (local time of
    `offset`, or of the city if None) and a GPS position, where given."""
    image = Image.new("RGB", (16, 12), color)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CityOps field camera"
    if taken_at is not None:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        zone = CITY_ZONE if offset is None else _fixed_zone(offset)
        local = taken_at.astimezone(zone)
        details[ExifTags.Base.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            details[ExifTags.Base.OffsetTimeOriginal] = offset
    if latitude is not None and longitude is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(latitude)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(longitude)
    out = io.BytesIO()
    image.save(out, image_format, exif=exif)
    return out.getvalue()
