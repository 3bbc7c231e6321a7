"""The ledger's hashing rules: pure functions, so anyone can recompute them.

Each entry's *canonical encoding* `canonical_json(entry)` (below) is hashed
two ways:

- as leaf `sequence - 1` of the RFC 6962 Merkle tree (`audit.domain.merkle`)::

    leaf_hash = SHA-256( 0x00 || canonical_json(entry) )

- into the hash chain, which names the first bad entry when a ledger is
  tampered with naively (the signed tree heads catch the rest)::

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
The event body is part of the leaf through `payload_sha256`; verification
recomputes that digest from the stored body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from audit.domain.merkle import leaf_hash
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
    # isoformat, not strftime: the same text, several times faster (verification
    # formats two times per entry).
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def canonical_json(entry: LedgerEntry) -> bytes:
    """The entry's hashed fields (`HASHED_FIELDS`) in their one canonical byte form."""
    record = {
        "sequence": entry.sequence,
        "case_id": entry.case_id,
        "event_id": entry.event_id,
        "event_type": entry.event_type,
        "subject": entry.subject,
        "producer": entry.producer,
        "occurred_at": canonical_time(entry.occurred_at),
        "recorded_at": canonical_time(entry.recorded_at),
        "actor_user_id": entry.actor_user_id,
        "department_id": entry.department_id,
        "summary": entry.summary,
        "trace_id": entry.trace_id,
        "span_id": entry.span_id,
        "payload_sha256": entry.payload_sha256,
    }
    return _ENCODER.encode(record).encode()


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    """The chain hash of an entry whose canonical encoding is `canonical`."""
    return hashlib.sha256(
        HASH_DOMAIN + b"\x00" + previous_hash.encode() + b"\x00" + canonical
    ).hexdigest()


def compute_entry_hash(previous_hash: str, entry: LedgerEntry) -> str:
    """The hash `entry` must carry when chained after `previous_hash`."""
    return chain_hash(previous_hash, canonical_json(entry))


def payload_sha256(body: bytes) -> str:
    """Hex SHA-256 of an event body, committing the entry to the event's content."""
    return hashlib.sha256(body).hexdigest()


def compute_leaf_hash(entry: LedgerEntry) -> str:
    """Hex RFC 6962 leaf hash of the entry's canonical encoding."""
    return leaf_hash(canonical_json(entry)).hex()
