"""Domain rules: which reports become detections, and what is said about the rest."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from detection.domain import rules
from detection.domain.commands import EvidenceInput, ReportDetection
from detection.domain.model import Certainty, Detection, Severity, SourceKind, Urgency
from detection.domain.problems import has_control

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SHA = "ab" * 32


@pytest.fixture(scope="module")
def report(policy: rules.IngestPolicy) -> ReportDetection:
    lat, lon = policy.city.random_point(random.Random(7))
    return ReportDetection(
        source_id="cam-001",
        source_event_id="evt-42",
        source_kind="video_ai",
        category_code="C0101",
        latitude=lat,
        longitude=lon,
        observed_at="2025-03-01T15:59:00+08:00",
        confidence=0.87,
        raw_payload_sha256=SHA,
        vendor=" hikvision ",
        urgency="Immediate",
        severity="severe",
        certainty="Observed",
        evidence=(EvidenceInput("s3://evidence/a.jpg", SHA.upper(), "Image/JPEG", 2048),),
    )


def normalise(report: ReportDetection, policy: rules.IngestPolicy) -> Detection:
    return rules.normalise(report, policy, detection_id="d-1", received_at=NOW)


def problems(report: ReportDetection, policy: rules.IngestPolicy) -> dict[str, str]:
    with pytest.raises(rules.InvalidReportError) as caught:
        normalise(report, policy)
    return {p.field: p.reason for p in caught.value.problems}


def test_a_valid_report_is_normalised(report: ReportDetection, policy: rules.IngestPolicy) -> None:
    d = rules.normalise(report, policy, detection_id="d-1", received_at=NOW)
    expected = policy.city.locate(report.latitude, report.longitude)
    assert expected is not None
    assert d.idempotency_key == "cam-001:evt-42"
    assert d.source_kind is SourceKind.VIDEO_AI
    assert (d.place.district_code, d.place.street_code, d.place.grid_code) == (
        expected.district_code,
        expected.street_code,
        expected.grid_code,
    )
    assert d.observed_at == datetime(2025, 3, 1, 7, 59, tzinfo=UTC)
    assert d.observed_at.tzinfo is UTC
    assert (d.urgency, d.severity, d.certainty) == (
        Urgency.IMMEDIATE,
        Severity.SEVERE,
        Certainty.OBSERVED,
    )
    assert d.vendor == "hikvision"
    assert d.evidence[0].sha256 == SHA and d.evidence[0].media_type == "image/jpeg"


def test_cap_fields_may_be_absent(report: ReportDetection, policy: rules.IngestPolicy) -> None:
    d = rules.normalise(
        replace(report, urgency=None, severity="", certainty=None),
        policy,
        detection_id="d-1",
        received_at=NOW,
    )
    assert (d.urgency, d.severity, d.certainty) == (None, None, None)


def test_every_problem_is_reported_at_once_naming_its_field(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    bad = replace(
        report,
        source_kind="satellite",
        category_code="X9999",
        confidence=1.5,
        urgency="Soon",
        evidence=(EvidenceInput("not a uri", "zz", "jpeg", 0),),
    )
    found = problems(bad, policy)
    assert set(found) == {
        "source_kind",
        "category_code",
        "confidence",
        "urgency",
        "evidence.0.uri",
        "evidence.0.sha256",
        "evidence.0.media_type",
        "evidence.0.size_bytes",
    }
    assert "video_ai" in found["source_kind"]
    assert "X9999" in found["category_code"]


def test_a_point_outside_the_city_is_refused(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    found = problems(replace(report, latitude=39.9, longitude=116.4), policy)
    assert list(found) == [""]
    assert "latitude/longitude" in found[""] and "outside" in found[""]


def test_coordinates_out_of_range_name_the_coordinate(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    assert set(problems(replace(report, latitude=91.0), policy)) == {"latitude"}
    assert set(problems(replace(report, longitude=float("nan")), policy)) == {"longitude"}


@pytest.mark.parametrize(
    ("observed_at", "reason"),
    [
        ("2025-03-01T08:00:00", "zone"),
        ("yesterday", "ISO 8601"),
        ("2025-03-01T08:05:01Z", "future"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_observed_at_needs_a_zone_and_no_more_than_the_skew_ahead(
    report: ReportDetection, policy: rules.IngestPolicy, observed_at: str, reason: str
) -> None:
    assert reason in problems(replace(report, observed_at=observed_at), policy)["observed_at"]


def test_observed_at_within_the_skew_is_accepted(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    d = rules.normalise(
        replace(report, observed_at="2025-03-01T08:05:00Z"),
        policy,
        detection_id="d-1",
        received_at=NOW,
    )
    assert d.observed_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize("confidence", [-0.01, 1.01, float("inf")])
def test_confidence_must_be_a_probability(
    report: ReportDetection, policy: rules.IngestPolicy, confidence: float
) -> None:
    assert set(problems(replace(report, confidence=confidence), policy)) == {"confidence"}


@pytest.mark.parametrize(
    ("source_id", "source_event_id", "field"),
    [
        ("", "e", "source_id"),
        ("cam", "  ", "source_event_id"),
        ("a:b", "c", "source_id"),
        (" cam", "e", "source_id"),
        ("cam", "e\x00", "source_event_id"),
        ("c" * 129, "e", "source_id"),
    ],
)
def test_the_idempotency_key_needs_clean_unambiguous_ids(
    source_id: str, source_event_id: str, field: str
) -> None:
    with pytest.raises(rules.InvalidReportError) as caught:
        rules.idempotency_key(source_id, source_event_id)
    assert [p.field for p in caught.value.problems] == [field]


def test_the_idempotency_key_joins_source_and_event() -> None:
    assert rules.idempotency_key("cam-1", "a:b") == "cam-1:a:b"


def test_free_text_is_bounded_and_free_of_control_characters(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    assert set(problems(replace(report, description="x" * 2001), policy)) == {"description"}
    assert set(problems(replace(report, device_id="a\x07b"), policy)) == {"device_id"}
    d = normalise(replace(report, description="line 1\nline 2\tend"), policy)
    assert d.description == "line 1\nline 2\tend"
    # A lone surrogate (valid in JSON text) cannot be stored or sent as UTF-8.
    assert set(problems(replace(report, vendor="bad \ud800"), policy)) == {"vendor"}


def test_evidence_size_must_fit_the_contract(
    report: ReportDetection, policy: rules.IngestPolicy
) -> None:
    huge = EvidenceInput("s3://e/x", SHA, "video/mp4", 2**63)
    assert set(problems(replace(report, evidence=(huge,)), policy)) == {"evidence.0.size_bytes"}


def test_too_much_evidence_is_refused(report: ReportDetection, policy: rules.IngestPolicy) -> None:
    many = report.evidence * (rules.MAX_EVIDENCE + 1)
    assert set(problems(replace(report, evidence=many), policy)) == {"evidence"}


@pytest.mark.parametrize(
    ("kind", "word", "expected"),
    [
        (Urgency, "Immediate", Urgency.IMMEDIATE),
        (Urgency, "  past ", Urgency.PAST),
        (Severity, "EXTREME", Severity.EXTREME),
        (Certainty, "Very  Likely", Certainty.LIKELY),
        (Certainty, "Unknown", Certainty.UNKNOWN),
    ],
)
def test_cap_words_map_to_their_members(kind: type, word: str, expected: object) -> None:
    assert rules.parse_cap(kind, word) is expected


def test_a_cap_word_of_another_field_is_refused() -> None:
    with pytest.raises(ValueError, match="Immediate"):
        rules.parse_cap(Urgency, "Very Likely")
    with pytest.raises(ValueError):
        rules.parse_cap(Severity, "Observed")


@pytest.mark.parametrize("allowed", ["", "\n\t"])
def test_control_characters_are_exactly_unicodes_cc_and_cs_less_the_allowed(allowed: str) -> None:
    # has_control matches with a character class; it must agree with Unicode's
    # own categories on every code point.
    for code in range(0x110000):
        c = chr(code)
        expected = unicodedata.category(c) in ("Cc", "Cs") and c not in allowed
        assert has_control(f"ok{c}ok", allowed) is expected, hex(code)
