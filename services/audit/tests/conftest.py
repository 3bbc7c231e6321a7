"""Factories shared by audit's tests (fixtures, since test folders are not packages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit.domain.ledger import chain_entry
from audit.domain.model import EventFacts, LedgerEntry

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

FactsFactory = Callable[..., EventFacts]
ChainFactory = Callable[[int], list[LedgerEntry]]


@pytest.fixture
def make_facts() -> FactsFactory:
    """EventFacts with sensible defaults; override any field by keyword."""
    counter = iter(range(1, 10_000))

    def build(**overrides: Any) -> EventFacts:
        n = next(counter)
        values: dict[str, Any] = {
            "event_id": f"evt-{n}",
            "event_type": "cityops.dispatch.v1.CaseDispatched",
            "subject": "cityops.dispatch.case.dispatched",
            "producer": "dispatch",
            "case_id": "C-1",
            "occurred_at": T0 + timedelta(minutes=n),
            "summary": "派遣至 D01-transport",
            "payload_sha256": f"{n:064x}",
            "department_id": "D01-transport",
        }
        values.update(overrides)
        return EventFacts(**values)

    return build


@pytest.fixture
def make_chain(make_facts: FactsFactory) -> ChainFactory:
    """A valid chain of n entries, as `record_event` would build it."""

    def build(n: int) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        previous = "0" * 64
        for sequence in range(1, n + 1):
            entry = chain_entry(
                make_facts(summary=f"第{sequence}步"),
                sequence=sequence,
                previous_hash=previous,
                recorded_at=T0 + timedelta(hours=sequence),
                trace_id=f"{sequence:032x}",
                span_id=f"{sequence:016x}",
            )
            entries.append(entry)
            previous = entry.entry_hash
        return entries

    return build
