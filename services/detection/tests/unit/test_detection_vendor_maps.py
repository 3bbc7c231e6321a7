"""Vendor maps and the camera registry: codes → 小类 with a confidence policy,
checked against the catalogue and the city when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.adapters.config_files import load_sources
from detection.bootstrap import Reference
from detection.domain.problems import InvalidReportError
from detection.domain.vendors import Layout, VendorConfigError, camera_registry, vendor_map
from svckit.errors import NotFoundError


def load(data: Any, reference: Reference) -> Any:
    return vendor_map(
        data, source="test", catalogue=reference.policy.catalogue, city=reference.policy.city
    )


def test_the_shipped_vendor_maps_load(reference: Reference) -> None:
    vendors = reference.sources.vendors
    assert {"cap", "dji", "generic", "hikvision"} <= set(vendors)
    hik = reference.sources.vendor("hikvision", [Layout.HIKVISION_ISAPI])
    code, rule = hik.rule("roadDamage/pothole", "eventType")
    assert (code, rule.category) == ("roadDamage/pothole", "E0105")
    assert hik.threshold(rule) == 0.6
    # ISAPI reports percentages; the map says so.
    assert hik.confidence_of(91, rule, "c") == pytest.approx(0.91)
    assert hik.confidence_of(None, rule, "c") == 0.7
    with pytest.raises(InvalidReportError):
        hik.confidence_of(150, rule, "c")
    with pytest.raises(InvalidReportError, match="unknown hikvision code"):
        hik.rule("teleportation", "eventType")


def test_a_vendor_is_found_only_for_its_layout(reference: Reference) -> None:
    with pytest.raises(NotFoundError):
        reference.sources.vendor("dji", [Layout.GENERIC, Layout.HIKVISION_ISAPI])
    with pytest.raises(NotFoundError):
        reference.sources.vendor("nobody", list(Layout))


def test_a_code_falls_back_to_the_vendor_policy(reference: Reference) -> None:
    generic = reference.sources.vendors["generic"]
    _, rule = generic.rule(" pothole ", "event_code")
    assert generic.threshold(rule) == 0.5
    assert generic.cap_words(rule) == (None, None, None)
    _, urgent = generic.rule("manhole_missing", "event_code")
    assert generic.cap_words(urgent) == ("Immediate", "Severe", None)


def test_a_broken_vendor_map_lists_every_problem(reference: Reference) -> None:
    base = {"vendor": "acme", "layout": "generic", "source_kind": "video_ai"}
    with pytest.raises(VendorConfigError) as caught:
        load(
            {
                **base,
                "codes": {"x": {"category": "Z0000"}, "y": {"category": "E0101"}},
                "geocodes": {"a=1": {"latitude": 39.9, "longitude": 116.4}},
            },
            reference,
        )
    assert any("Z0000" in p for p in caught.value.problems)
    assert any("outside the city" in p for p in caught.value.problems)
    for broken in (
        {**base, "codes": {"x": {"category": "E0101", "min_confidence": 2}}},
        {**base, "layout": "telepathy", "codes": {}},
        {**base, "vendor": "Acme Inc", "codes": {}},
        {**base, "codes": {"x": {"category": "E0101", "colour": "red"}}},
    ):
        with pytest.raises(VendorConfigError):
            load(broken, reference)


def test_the_camera_registry_finds_cameras_by_mac_ip_or_id(reference: Reference) -> None:
    cameras = reference.sources.cameras
    camera, channel = cameras.locate("hikvision", ["44:19:B6:F7:A5:B2"], 2, "macAddress")
    assert camera.device_id == "hik-hb-0001" and channel.channel == 2
    camera, _ = cameras.locate("hikvision", ["", "10.20.1.12"], 1, "macAddress")
    assert camera.device_id == "hik-hb-0002"
    with pytest.raises(InvalidReportError, match="no channel 9"):
        cameras.locate("hikvision", ["10.20.1.12"], 9, "channelID")
    with pytest.raises(InvalidReportError, match="no registered"):
        cameras.locate("generic", ["hik-hb-0001"], 1, "device_id")


def test_a_broken_camera_registry_is_refused(reference: Reference) -> None:
    city = reference.policy.city
    twice = {
        "cameras": [
            {"device_id": "a", "vendor": "v", "ip_address": "10.0.0.1", "channels": []},
            {"device_id": "b", "vendor": "v", "ip_address": "10.0.0.1", "channels": [
                {"channel": 1, "latitude": 39.9, "longitude": 116.4}
            ]},
        ]
    }  # fmt: skip
    with pytest.raises(VendorConfigError) as caught:
        camera_registry(twice, source="test", city=city)
    assert len(caught.value.problems) == 2


def test_a_vendor_file_must_be_named_after_its_vendor(tmp_path: Path, reference: Reference) -> None:
    (tmp_path / "vendors").mkdir()
    (tmp_path / "vendors" / "acme.yaml").write_text(
        "vendor: other\nlayout: generic\nsource_kind: video_ai\ncodes: {}\n"
    )
    with pytest.raises(VendorConfigError, match="file name"):
        load_sources(tmp_path, reference.policy.catalogue, reference.policy.city)
    (tmp_path / "vendors" / "acme.yaml").write_text("vendor: [unclosed\n")
    with pytest.raises(VendorConfigError, match="not YAML"):
        load_sources(tmp_path, reference.policy.catalogue, reference.policy.city)
    empty = load_sources(tmp_path / "none", reference.policy.catalogue, reference.policy.city)
    assert dict(empty.vendors) == {} and empty.cameras.cameras == ()
