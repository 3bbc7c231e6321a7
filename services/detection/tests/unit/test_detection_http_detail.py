"""The 422 detail items: a field path's list indexes become ints, any other
part (a superscript digit included) stays text."""

from __future__ import annotations

from detection.entrypoints.http_common import detail_item


def test_indexes_become_ints_and_other_digits_stay_text() -> None:
    assert detail_item("reports.2.latitude", "out of range")["loc"] == [
        "body",
        "reports",
        2,
        "latitude",
    ]
    assert detail_item("¹", "unknown attribute")["loc"] == ["body", "¹"]
