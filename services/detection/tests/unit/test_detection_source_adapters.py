"""Each source adapter on its own: a vendor payload in, the service's commands
out; bad payloads refused with the field at fault. No I/O beyond the fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from detection.adapters.sources import cap, cloudevents, dji, hikvision, telemetry, video_ai
from detection.adapters.sources.common import MalformedPayloadError, loads_json, vendor_time
from detection.bootstrap import Reference
from detection.domain.problems import InvalidReportError

SHA = "c" * 64
Bytes = Callable[[str], bytes]
Json = Callable[[str], Any]


def refused(call: Callable[[], object]) -> dict[str, str]:
    with pytest.raises(InvalidReportError) as caught:
        call()
    return {p.field: p.reason for p in caught.value.problems}


# CAP ------------------------------------------------------------------------


def test_a_cap_alert_becomes_one_report(reference: Reference, fixture_bytes: Bytes) -> None:
    message = cap.parse(
        fixture_bytes("cap_gas_leak_alert.xml"), reference.sources.vendors["cap"], SHA
    )
    (report,) = message.reports
    assert report.source_id == "cap/scada@gas.sample-city.gov.cn"
    assert report.source_event_id == "GASNET-2025-000417"
    assert report.category_code == "E0403" and report.source_code == "cityops=E0403"
    assert (report.urgency, report.severity, report.certainty) == (
        "Immediate",
        "Severe",
        "Observed",
    )
    assert report.confidence == 0.95  # from certainty Observed
    assert report.observed_at == "2025-06-01T09:15:00+08:00"
    assert report.latitude == pytest.approx(31.239) and report.longitude == pytest.approx(121.4925)
    assert report.area is not None and len(report.area.polygons[0]) == 5
    (evidence,) = report.evidence
    assert evidence.sha256 is None and evidence.sha1 == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
    assert evidence.size_bytes == 204800 and evidence.media_type == "image/jpeg"
    assert not report.exercise and report.supersedes == ()
    assert "湖滨路" in report.description and report.model_name == "CAP Safety,Infra"


def test_a_cap_update_supersedes_and_a_cancel_withdraws_its_references(
    reference: Reference, fixture_bytes: Bytes
) -> None:
    vendor = reference.sources.vendors["cap"]
    (update,) = cap.parse(fixture_bytes("cap_gas_leak_update.xml"), vendor, SHA).reports
    key = "cap/scada@gas.sample-city.gov.cn:GASNET-2025-000417"
    assert update.supersedes == (key,)
    assert update.area is not None and update.area.circles[0].radius_m == pytest.approx(150)
    cancel = cap.parse(fixture_bytes("cap_gas_leak_cancel.xml"), vendor, SHA).cancel
    assert cancel is not None and cancel.references[0] == key and len(cancel.references) == 2
    assert "sensor fault" in cancel.reason and not cancel.exercise


def test_exercises_are_flagged_and_geocodes_are_located(
    reference: Reference, fixture_bytes: Bytes
) -> None:
    vendor = reference.sources.vendors["cap"]
    (drill,) = cap.parse(fixture_bytes("cap_flooding_exercise.xml"), vendor, SHA).reports
    assert drill.exercise and drill.source_id == "cap/urn%3Aoid%3A2.49.0.1.156.1.310901"
    (water,) = cap.parse(fixture_bytes("cap_geocode_alert.xml"), vendor, SHA).reports
    assert (water.latitude, water.longitude) == (31.26, 121.5125)
    assert water.area is not None and water.area.geocodes[0].value == "310901"


@pytest.mark.parametrize("name", ["cap_billion_laughs.xml", "cap_xxe.xml"])
def test_xml_with_a_dtd_is_refused_before_any_entity_expands(
    reference: Reference, fixture_bytes: Bytes, name: str
) -> None:
    with pytest.raises(MalformedPayloadError, match="DTDForbidden"):
        cap.parse(fixture_bytes(name), reference.sources.vendors["cap"], SHA)


def _alert(fixture_bytes: Bytes, old: str, new: str) -> bytes:
    text = fixture_bytes("cap_gas_leak_alert.xml").decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("<status>Actual</status>", "<status>Draft</status>", "status"),
        ("<status>Actual</status>", "<status>Real</status>", "status"),
        ("<msgType>Alert</msgType>", "<msgType>Ack</msgType>", "msgType"),
        ("<sender>scada@gas.sample-city.gov.cn</sender>", "", "sender"),
        ("<msgType>Alert</msgType>", "<msgType>Update</msgType>", "references"),
        ("<value>E0403</value>", "<value>E9999</value>", ""),
        ("<certainty>Observed</certainty>", "", "certainty"),
        ("<polygon>31.2385,121.4920 ", "<polygon>31.2385,121.4920 x ", "area.0.polygon.0"),
        ("<size>204800</size>", "<size>big</size>", "resource.0.size"),
    ],
)
def test_a_bad_cap_alert_names_its_field(
    reference: Reference, fixture_bytes: Bytes, old: str, new: str, field: str
) -> None:
    vendor = reference.sources.vendors["cap"]
    raw = _alert(fixture_bytes, old, new)
    if field == "":  # an unmapped eventCode falls back to the same info's event text
        assert cap.parse(raw, vendor, SHA).reports[0].source_code == "燃气泄漏"
        return
    assert field in refused(lambda: cap.parse(raw, vendor, SHA))


def test_unmappable_or_unlocatable_alerts_and_non_cap_xml_are_refused(
    reference: Reference, fixture_bytes: Bytes
) -> None:
    vendor = reference.sources.vendors["cap"]
    raw = fixture_bytes("cap_geocode_alert.xml")
    unmapped = raw.replace(b"Water Main Break", b"Alien Landing")
    assert "info.event" in refused(lambda: cap.parse(unmapped, vendor, SHA))
    unknown_place = raw.replace(b"<value>310901</value>", b"<value>999999</value>")
    assert "info.area" in refused(lambda: cap.parse(unknown_place, vendor, SHA))
    assert "alert" in refused(lambda: cap.parse(fixture_bytes("cap_v11_alert.xml"), vendor, SHA))
    for junk in (b"", b"<alert", b"\xff\xfe<a/>", b"{}"):
        with pytest.raises(MalformedPayloadError):
            cap.parse(junk, vendor, SHA)


# CloudEvents ------------------------------------------------------------------


def test_a_structured_event_becomes_a_report(fixture_json: Json) -> None:
    report = cloudevents.from_structured(fixture_json("ce_structured.json"), SHA)
    assert report.source_id == "ce/urn%3Asample-city%3Ainspection-app"
    assert report.source_event_id == "insp-20250601-0042"
    assert report.observed_at == "2025-06-01T11:02:00+08:00"  # the event's time
    assert report.source_kind == "inspector" and report.evidence[0].size_bytes == 412004


def test_a_binary_event_takes_its_attributes_from_headers(fixture_json: Json) -> None:
    event = fixture_json("ce_structured.json")
    headers = {f"ce-{k}": v for k, v in event.items() if k != "data"} | {"host": "x"}
    report = cloudevents.from_binary(headers, event["data"], SHA)
    assert report.source_event_id == event["id"] and report.category_code == "E0105"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"type": "com.example.v1"}, "type"),
        ({"id": ""}, "id"),
        ({"source": 7}, "source"),
        ({"datacontenttype": "text/xml"}, "datacontenttype"),
        ({"data_base64": "e30="}, "data_base64"),
        ({"Bad-Name": 1}, "Bad-Name"),
        ({"time": None}, "time"),
        ({"data": [1]}, "data"),
        ({"data": {"source_kind": "citizen"}}, "data.category_code"),
    ],
)
def test_a_bad_event_names_its_attribute(
    fixture_json: Json, change: dict[str, Any], field: str
) -> None:
    event = fixture_json("ce_structured.json") | change
    if field == "time":
        event.pop("time")
    assert field in refused(lambda: cloudevents.from_structured(event, SHA))


def test_batches_are_arrays_of_bounded_length(fixture_json: Json) -> None:
    assert len(cloudevents.batch_items(fixture_json("ce_batch.json"))) == 3
    assert "" in refused(lambda: cloudevents.batch_items({"not": "a list"}))
    assert "" in refused(lambda: cloudevents.batch_items([{}] * (cloudevents.MAX_BATCH + 1)))
    assert cloudevents.item_sha256({"b": 1, "a": 2}) == cloudevents.item_sha256({"a": 2, "b": 1})


# Video AI ---------------------------------------------------------------------


def test_an_isapi_alarm_reports_each_confident_target(
    reference: Reference, fixture_json: Json
) -> None:
    vendor, cameras = reference.sources.vendors["hikvision"], reference.sources.cameras
    message = hikvision.parse(
        fixture_json("hikvision_road_damage_active.json"), vendor, cameras, SHA
    )
    (report,) = message.reports
    assert report.source_id == "hik-hb-0001" and report.device_id == "hik-hb-0001/1"
    assert report.source_event_id == "ch1/roadDamage@2025-06-01T10:19:27+08:00#0"
    assert report.source_code == "roadDamage/pothole" and report.category_code == "E0105"
    assert report.confidence == pytest.approx(0.91)
    assert report.region is not None and report.region.width == pytest.approx(0.118)
    assert (report.latitude, report.longitude) == (31.23887, 121.49246)
    assert report.evidence[0].sha256 is None and report.evidence[0].media_type == "image/jpeg"
    assert [s.item for s in message.skipped] == ["targets.1"]  # crack at 55 % < 70 %


def test_an_inactive_isapi_alarm_clears_the_event_types_codes(
    reference: Reference, fixture_json: Json
) -> None:
    vendor, cameras = reference.sources.vendors["hikvision"], reference.sources.cameras
    message = hikvision.parse(
        fixture_json("hikvision_road_damage_inactive.json"), vendor, cameras, SHA
    )
    assert message.reports == () and message.clear is not None
    assert message.clear.device_id == "hik-hb-0001/1"
    assert set(message.clear.source_codes) == {
        "roadDamage",
        "roadDamage/pothole",
        "roadDamage/crack",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eventType": "teleportation", "targets": []}, "eventType"),
        (
            {"targets": [{"detectionTarget": "unicorn", "confidence": 90}], "eventType": "x"},
            "targets.0.detectionTarget",
        ),
        ({"macAddress": "00:00:00:00:00:00", "ipAddress": "10.9.9.9"}, "macAddress"),
        ({"macAddress": "", "ipAddress": ""}, "macAddress"),
        ({"channelID": 7}, "macAddress"),
        ({"eventState": "sleepy"}, "eventState"),
        ({"dateTime": "yesterday"}, "dateTime"),
        ({"targets": [{"detectionTarget": "pothole", "confidence": 250}]}, "targets.0.confidence"),
    ],
)
def test_a_bad_isapi_alarm_names_its_field(
    reference: Reference, fixture_json: Json, change: dict[str, Any], field: str
) -> None:
    alert = fixture_json("hikvision_road_damage_active.json") | change
    vendor, cameras = reference.sources.vendors["hikvision"], reference.sources.cameras
    assert field in refused(lambda: hikvision.parse(alert, vendor, cameras, SHA))


def test_the_generic_layout_uses_the_registry_or_its_own_position(
    reference: Reference, fixture_json: Json
) -> None:
    vendor, cameras = reference.sources.vendors["generic"], reference.sources.cameras
    alarm = fixture_json("generic_pothole_active.json")
    (report,) = video_ai.parse_generic(alarm, vendor, cameras, SHA).reports
    assert (report.latitude, report.longitude) == (31.21845, 121.50275)
    assert report.source_event_id == "cam-0042-20250601-000311" and report.model_version == "2.3.1"
    assert report.evidence[0].sha256 == alarm["image"]["sha256"]
    placed = alarm | {"device_id": "cam-unregistered", "latitude": 31.2, "longitude": 121.5}
    assert video_ai.parse_generic(placed, vendor, cameras, SHA).reports[0].latitude == 31.2
    low = video_ai.parse_generic(alarm | {"confidence": 0.2}, vendor, cameras, SHA)
    assert low.reports == () and "below" in low.skipped[0].reason
    cleared = video_ai.parse_generic(alarm | {"state": "inactive"}, vendor, cameras, SHA).clear
    assert cleared is not None and cleared.source_codes == ("pothole",)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_code": "dragon"}, "event_code"),
        ({"device_id": "cam-unregistered"}, "device_id"),
        ({"latitude": 31.2}, "latitude"),
        ({"confidence": "0.9"}, "confidence"),
        ({"channel": True}, "channel"),
        ({"colour": "red"}, "colour"),
        ({"state": "inactive", "event_code": "dragon"}, "event_code"),
    ],
)
def test_a_bad_generic_alarm_names_its_field(
    reference: Reference, fixture_json: Json, change: dict[str, Any], field: str
) -> None:
    vendor, cameras = reference.sources.vendors["generic"], reference.sources.cameras
    alarm = fixture_json("generic_pothole_active.json") | change
    assert field in refused(lambda: video_ai.parse_generic(alarm, vendor, cameras, SHA))


# Drone --------------------------------------------------------------------------


def test_a_drone_result_reports_each_label_above_its_minimum(
    reference: Reference, fixture_json: Json
) -> None:
    message = dji.parse(
        fixture_json("dji_inspection_result.json"), reference.sources.vendors["dji"], SHA
    )
    assert [r.source_code for r in message.reports] == ["pothole", "road_crack"]
    assert [s.item for s in message.skipped] == ["data.ai_result.labels.1"]
    first = message.reports[0]
    assert first.source_id == "1581F5BKD225D00BMZ50" and first.source_kind == "drone"
    assert first.source_event_id == "6a7bfe89-c386-4043-b600-b518e10096cc#0"
    assert first.observed_at == "2025-06-01T10:20:00+08:00"  # zoneless DJI time, fleet offset
    assert first.model_name == "dock-road-inspection"
    assert "altitude 41.124 m" in first.description and "heading -91.4°" in first.description
    assert first.evidence[0].size_bytes == 6291456


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("method",), "hms", "method"),
        (("data", "file", "ext", "sn"), "bad sn!", "data.file.ext.sn"),
        (("data", "ai_result", "labels"), [], "data.ai_result.labels"),
        (
            ("data", "file", "metadata", "shoot_position"),
            {"lat": "north"},
            "data.file.metadata.shoot_position.lat",
        ),
        (("data", "ai_result", "labels", 0, "label"), "ufo", "data.ai_result.labels.0.label"),
        (("data", "file", "metadata", "create_time"), "soon", "metadata.create_time"),
    ],
)
def test_a_bad_drone_result_names_its_field(
    reference: Reference, fixture_json: Json, path: tuple[Any, ...], value: Any, field: str
) -> None:
    event = fixture_json("dji_inspection_result.json")
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert field in refused(lambda: dji.parse(event, reference.sources.vendors["dji"], SHA))


# IoT and common -------------------------------------------------------------------


def test_telemetry_takes_iso_or_epoch_milliseconds() -> None:
    iso = telemetry.parse(
        "gas-hb-0001",
        {"ts": "2025-06-01T10:00:00+08:00", "readings": {"gas_ppm": 3}, "seq": 9},
        SHA,
    )
    assert iso.observed_at == "2025-06-01T10:00:00+08:00" and iso.readings == {"gas_ppm": 3.0}
    epoch = telemetry.parse("gas-hb-0001", {"ts": 1748743200000, "readings": {}}, SHA)
    assert epoch.observed_at == "2025-06-01T02:00:00+00:00"
    http = telemetry.parse_http({"device_id": "wl-ng-0001", "ts": 0, "readings": {}}, SHA)
    assert http.device_id == "wl-ng-0001"
    assert "ts" in refused(lambda: telemetry.parse("d", {"ts": 10**30, "readings": {}}, SHA))
    assert "readings.x" in refused(
        lambda: telemetry.parse("d", {"ts": 0, "readings": {"x": "1"}}, SHA)
    )
    assert "device_id" in refused(
        lambda: telemetry.parse_http({"device_id": "a.b", "ts": 0, "readings": {}}, SHA)
    )


def test_json_is_parsed_strictly() -> None:
    for bad in (b"{", b"NaN", b'{"a": Infinity}', b"\xff", json.dumps([[[]]] * 1).encode() * 2):
        with pytest.raises(MalformedPayloadError):
            loads_json(bad)
    with pytest.raises(MalformedPayloadError, match="nested"):
        loads_json(b"[" * 40 + b"]" * 40)
    assert loads_json(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}


def test_vendor_times_get_the_vendor_zone_only_when_they_have_none() -> None:
    assert vendor_time("2025-06-01 10:20:00", "+08:00", "t") == "2025-06-01T10:20:00+08:00"
    assert vendor_time("2025-06-01T10:20:00Z", "+08:00", "t") == "2025-06-01T10:20:00+00:00"
    assert vendor_time("2025-06-01T10:20:00", "-03:30", "t").endswith("-03:30")
