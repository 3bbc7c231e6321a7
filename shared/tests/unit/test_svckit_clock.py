"""Ids are RFC 9562 version-7 UUIDs: unique, and ordered by the millisecond they were made."""

from __future__ import annotations

import time
import uuid

from svckit.clock import new_id


def test_an_id_is_a_version_7_uuid_with_its_prefix() -> None:
    made = new_id("case-")
    assert made.startswith("case-")
    parsed = uuid.UUID(made.removeprefix("case-"))
    assert str(parsed) == made.removeprefix("case-")
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_the_id_carries_the_millisecond_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_ids_are_unique_and_later_milliseconds_sort_later() -> None:
    first = [new_id() for _ in range(5000)]
    time.sleep(0.002)
    second = [new_id() for _ in range(100)]
    assert len(set(first + second)) == 5100
    assert max(first) < min(second)
