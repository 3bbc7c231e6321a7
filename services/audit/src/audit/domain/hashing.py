"""The ledger's hashing rule: one pure function, so anyone can recompute it.

Rule (version `cityops.audit.ledger.v1`)::

    entry_hash = SHA-256( b"cityops.audit.ledger.v1" || 0x00
                          || previous_hash as 64 lowercase hex ASCII characters || 0x00
                          || canonical_json(entry) )

- `previous_hash` is the `entry_hash` of the entry with the sequence before,
  or `GENESIS_HASH` (64 zeros) for sequence 1.
- `canonical_json(entry)` is a JSON object holding exactly the fields in
  `HASHED_FIELDS`, keys in ascending order, no whitespace, UTF-8 without
  escaping non-ASCII characters; `sequence` is a JSON integer, every other
  field a string; timestamps are UTC RFC 3339 with microseconds
  (`2024-05-01T08:00:00.000000Z`). For these value types this is the RFC 8785
  (JCS) canonical form, so another language reproduces it byte for byte.
- The fields are those of `cityops.audit.v1.LedgerEntry` apart from the two
  hashes, so each entry of a timeline can be checked from the proto alone.

`sequence` is hashed, so moving an entry breaks its hash as surely as editing it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from audit.domain.model import LedgerEntry

HASH_DOMAIN = b"cityops.audit.ledger.v1"
GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "sequence",
    "case_id",
    "event_id",
    "event_type",
    "subject",
    "producer",
    "occurred_at",
    "recorded_at",
    "actor_user_id",
    "department_id",
    "summary",
    "trace_id",
    "span_id",
    "payload_sha256",
)


def canonical_time(value: datetime) -> str:
    """An aware datetime as UTC RFC 3339 with microseconds."""
    if value.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(entry: LedgerEntry) -> bytes:
    """The entry's hashed fields in their one canonical byte form."""
    record: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = getattr(entry, name)
        record[name] = canonical_time(value) if isinstance(value, datetime) else value
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_entry_hash(previous_hash: str, entry: LedgerEntry) -> str:
    """The hash `entry` must carry when chained after `previous_hash`."""
    digest = hashlib.sha256()
    digest.update(HASH_DOMAIN + b"\x00")
    digest.update(previous_hash.encode() + b"\x00")
    digest.update(canonical_json(entry))
    return digest.hexdigest()


def payload_sha256(body: bytes) -> str:
    """Hex SHA-256 of an event body, committing the entry to the event's content."""
    return hashlib.sha256(body).hexdigest()
