"""svckit.messaging.subjects: one stream per producer, one durable per
(consumer, producer), and every subject on its producer's stream."""

from __future__ import annotations

import re

import pytest

from svckit.messaging import subjects
from svckit.messaging.subjects import PRODUCERS, durable_name, producer_of, stream_for

ALL_SUBJECTS = [
    subjects.DETECTION_REPORTED,
    subjects.CASE_FILED,
    subjects.CASE_DISPATCHED,
    subjects.CASE_UNROUTABLE,
    subjects.WORKORDER_CREATED,
    subjects.WORKORDER_ACCEPTED,
    subjects.WORKORDER_COMPLETED,
    subjects.CASE_VERIFIED,
    subjects.CASE_REWORK,
    subjects.CASE_CLOSED,
]


@pytest.mark.parametrize("producer", PRODUCERS)
def test_each_producer_has_one_stream_named_after_it(producer: str) -> None:
    spec = stream_for(producer)
    assert spec.name == producer.upper()
    assert spec.subjects == (f"cityops.{producer}.>",)
    assert (spec.duplicate_window_seconds, spec.max_age_days) == (600.0, 30.0)
    assert stream_for(producer) == spec  # the same declaration from every service


def test_streams_are_distinct() -> None:
    specs = [stream_for(p) for p in PRODUCERS]
    assert len({s.name for s in specs}) == len({s.subjects for s in specs}) == len(PRODUCERS)


@pytest.mark.parametrize("name", ALL_SUBJECTS)
def test_every_subject_lies_on_its_producers_stream(name: str) -> None:
    producer = producer_of(name)
    assert producer in PRODUCERS
    prefix = stream_for(producer).subjects[0].removesuffix(">")
    assert name.startswith(prefix) and len(name.split(".")) == 4


def test_subject_names_follow_the_convention() -> None:
    assert subjects.subject("intake", "case", "filed") == "cityops.intake.case.filed"
    assert subjects.CASE_FILED == "cityops.intake.case.filed"
    assert subjects.CASE_CLOSED == "cityops.audit.case.closed"
    assert producer_of("cityops.workorders.workorder.accepted") == "workorders"
    assert len(set(ALL_SUBJECTS)) == len(ALL_SUBJECTS)


def test_durable_name_is_consumer_then_producer() -> None:
    assert durable_name("audit", "dispatch") == "audit-dispatch"
    assert durable_name("intake", "detection") == "intake-detection"
    assert durable_name("intake", "dispatch") != durable_name("dispatch", "intake")


@pytest.mark.parametrize("unknown", ["billing", "", "DETECTION", "cityops.intake"])
def test_an_unknown_producer_has_no_stream(unknown: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"unknown producer {unknown!r}")):
        stream_for(unknown)
