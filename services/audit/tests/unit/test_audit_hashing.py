"""The hashing rule: reproducible from its documentation, sensitive to every hashed field."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from audit.domain.hashing import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    compute_entry_hash,
    payload_sha256,
)
from audit.domain.model import EventFacts, LedgerEntry

ChainFactory = Callable[[int], list[LedgerEntry]]
FactsFactory = Callable[..., EventFacts]


def test_hash_follows_the_documented_rule(make_chain: ChainFactory) -> None:
    entry = make_chain(1)[0]
    record = {
        "sequence": 1,
        "case_id": "C-1",
        "event_id": entry.event_id,
        "event_type": "cityops.dispatch.v1.CaseDispatched",
        "subject": "cityops.dispatch.case.dispatched",
        "producer": "dispatch",
        "occurred_at": entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "recorded_at": "2024-05-01T09:00:00.000000Z",
        "actor_user_id": "",
        "department_id": "D01-transport",
        "summary": "第1步",
        "trace_id": f"{1:032x}",
        "span_id": f"{1:016x}",
        "payload_sha256": entry.payload_sha256,
    }
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(
        b"cityops.audit.ledger.v1\x00" + GENESIS_HASH.encode() + b"\x00" + body.encode()
    ).hexdigest()
    assert entry.previous_hash == GENESIS_HASH
    assert entry.entry_hash == expected
    assert "第1步".encode() in canonical_json(entry)  # UTF-8, not \\u escapes


@pytest.mark.parametrize("name", HASHED_FIELDS)
def test_every_hashed_field_changes_the_hash(make_chain: ChainFactory, name: str) -> None:
    entry: LedgerEntry = make_chain(1)[0]
    value = getattr(entry, name)
    if isinstance(value, int):
        changed = replace(entry, **{name: value + 1})
    elif isinstance(value, datetime):
        changed = replace(entry, **{name: value.replace(microsecond=1)})
    else:
        changed = replace(entry, **{name: value + "x"})
    assert compute_entry_hash(GENESIS_HASH, changed) != entry.entry_hash


def test_previous_hash_is_part_of_the_hash_but_the_detection_index_is_not(
    make_chain: ChainFactory,
) -> None:
    entry: LedgerEntry = make_chain(1)[0]
    assert compute_entry_hash("1" * 64, entry) != entry.entry_hash
    assert (
        compute_entry_hash(GENESIS_HASH, replace(entry, detection_id="det-9")) == entry.entry_hash
    )


def test_naive_times_are_refused(make_chain: ChainFactory) -> None:
    entry: LedgerEntry = make_chain(1)[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_json(replace(entry, occurred_at=entry.occurred_at.replace(tzinfo=None)))


def test_payload_digest_is_hex_sha256() -> None:
    assert payload_sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()
