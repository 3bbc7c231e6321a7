"""What an upload may be, how its EXIF is read (photos made by Pillow), and
when its provenance is flagged."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from svckit.errors import InvalidArgumentError
from workorders.adapters.exif import read_photo_metadata
from workorders.domain.evidence import (
    EvidenceKind,
    EvidencePolicy,
    FlagCode,
    PhotoMetadata,
    check_upload,
    distance_m,
    evidence_id_for,
    object_key,
    provenance_flags,
    sniff_media_type,
)
from workorders.domain.values import Place

CITY = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
POLICY = EvidencePolicy(
    media_types=frozenset({"image/jpeg", "image/png", "application/pdf"}),
    max_bytes=4096,
    max_distance_m=500.0,
    slack_before=timedelta(hours=24),
    clock_skew=timedelta(minutes=10),
)
PLACE = Place(31.2304, 121.4737)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_exif_time_and_gps_are_read(make_photo) -> None:  # type: ignore[no-untyped-def]
    jpeg = make_photo(latitude=31.2304, longitude=121.4737, taken_at=NOW, offset="+08:00")
    meta = read_photo_metadata(jpeg, CITY)
    assert meta.captured_at == NOW
    assert meta.latitude == pytest.approx(31.2304, abs=1e-5)
    assert meta.longitude == pytest.approx(121.4737, abs=1e-5)


def test_exif_without_offset_is_in_the_city_zone_and_south_west_is_negative(
    make_photo,  # type: ignore[no-untyped-def]
) -> None:
    png = make_photo(
        latitude=-33.86, longitude=-70.65, taken_at=NOW, offset=None, image_format="PNG"
    )
    meta = read_photo_metadata(png, CITY)
    assert meta.captured_at == NOW
    assert meta.latitude == pytest.approx(-33.86, abs=1e-5)
    assert meta.longitude == pytest.approx(-70.65, abs=1e-5)


def test_a_photo_without_exif_says_nothing_and_a_non_image_is_refused(
    make_photo,  # type: ignore[no-untyped-def]
) -> None:
    assert read_photo_metadata(make_photo(), CITY) == PhotoMetadata()
    with pytest.raises(InvalidArgumentError, match="cannot be read"):
        read_photo_metadata(b"\xff\xd8\xff" + b"\x00" * 20, CITY)


def test_uploads_are_checked_for_type_size_and_content(make_photo) -> None:  # type: ignore[no-untyped-def]
    jpeg = make_photo()
    ok = check_upload(
        POLICY,
        file_name="../../etc/site.jpg",
        media_type="image/jpeg",
        content=jpeg,
        kind=EvidenceKind.BEFORE_PHOTO,
    )
    assert ok == "site.jpg"
    assert (
        check_upload(
            POLICY,
            file_name=r"C:\\photos\\a.pdf",
            media_type="application/pdf",
            content=PDF,
            kind=EvidenceKind.OTHER,
        )
        == "a.pdf"
    )
    cases = [
        ("a.jpg", "image/jpeg", b"", EvidenceKind.OTHER, "empty"),
        ("a.jpg", "image/jpeg", jpeg + b"\0" * 4096, EvidenceKind.OTHER, "limit is 4096"),
        ("a.gif", "image/gif", b"GIF89a....", EvidenceKind.OTHER, "not accepted"),
        ("a.png", "image/png", jpeg, EvidenceKind.OTHER, "content is image/jpeg"),
        ("a.jpg", "image/jpeg", b"<html>", EvidenceKind.OTHER, "unknown type"),
        ("a.pdf", "application/pdf", PDF, EvidenceKind.AFTER_PHOTO, "must be an image"),
        (" ", "image/jpeg", jpeg, EvidenceKind.OTHER, "file_name"),
        ("x" * 201, "image/jpeg", jpeg, EvidenceKind.OTHER, "file_name"),
    ]
    for name, media_type, content, kind, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            check_upload(POLICY, file_name=name, media_type=media_type, content=content, kind=kind)


def test_sniffing_knows_the_allowed_types() -> None:
    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, "PNG")
    assert sniff_media_type(png.getvalue()) == "image/png"
    assert sniff_media_type(PDF) == "application/pdf"
    assert sniff_media_type(b"GIF89a") is None


def test_distance_is_in_metres() -> None:
    # One thousandth of a degree of latitude is about 111 m.
    assert distance_m(31.0, 121.0, 31.001, 121.0) == pytest.approx(111.2, abs=0.5)
    assert distance_m(31.0, 121.0, 31.0, 121.0) == 0


def window(meta: PhotoMetadata, place: Place | None = PLACE) -> set[FlagCode]:
    flags = provenance_flags(
        meta,
        place,
        earliest=NOW - timedelta(hours=24),
        latest=NOW + timedelta(minutes=10),
        max_distance_m=500,
    )
    assert all(f.detail for f in flags)
    return {f.code for f in flags}


def test_provenance_is_flagged_not_refused() -> None:
    near = (PLACE.latitude or 0) + 0.003, PLACE.longitude  # ~330 m north
    far = (PLACE.latitude or 0) + 0.006, PLACE.longitude  # ~670 m north
    assert window(PhotoMetadata(NOW, *near)) == set()
    assert window(PhotoMetadata(NOW, *far)) == {FlagCode.LOCATION_MISMATCH}
    assert window(PhotoMetadata(NOW - timedelta(hours=25), *near)) == {FlagCode.TIME_OUTSIDE_WINDOW}
    assert window(PhotoMetadata(NOW + timedelta(minutes=11), *near)) == {
        FlagCode.TIME_OUTSIDE_WINDOW
    }
    assert window(PhotoMetadata()) == {
        FlagCode.CAPTURE_TIME_MISSING,
        FlagCode.CAPTURE_LOCATION_MISSING,
    }
    # A case without a point cannot be compared with: no location flag.
    assert window(PhotoMetadata(NOW, *far), place=Place(district_code="D01")) == set()


def test_an_uploads_key_derives_from_its_order_and_request() -> None:
    first = evidence_id_for("WO-1", "r-1")
    assert first == evidence_id_for("WO-1", "r-1") != evidence_id_for("WO-2", "r-1")
    assert object_key("WO-1", first) == f"WO-1/{first}"
