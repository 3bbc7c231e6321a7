"""Checking a ledger entry's proof independently of the audit service.

The console recomputes, from the timeline entry it shows, the entry's RFC 6962
leaf hash (audit's published canonical encoding, docs in
audit.domain.hashing), follows the inclusion proof to the tree root
(RFC 9162 §2.1.3.2), and rebuilds the signed tree head's message; the
signature itself is checked by the caller with the published key. A
mismatch anywhere means the entry shown is not the one the log committed to.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(fields: Mapping[str, Any]) -> bytes:
    """RFC 8785 form of the hashed fields: sorted keys, no spaces, UTF-8."""
    record = {
        name: canonical_time(fields[name]) if isinstance(fields[name], datetime) else fields[name]
        for name in HASHED_FIELDS
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof leads to, or None when the proof is malformed."""
    if leaf_index < 0 or leaf_index >= tree_size:
        return None
    fn, sn, node = leaf_index, tree_size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def tree_head_message(timestamp_ms: int, tree_size: int, root_hash: bytes) -> bytes:
    """RFC 6962 §3.5 TreeHeadSignature: v1, tree_hash, timestamp, size, root."""
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, tree_size) + root_hash


@dataclass(frozen=True)
class ProofCheck:
    """What was checked for one entry, each step on its own so a screen can say which failed."""

    sequence: int
    leaf_matches: bool  # the entry shown hashes to the leaf the proof is for
    path_leads_to_root: bool  # the audit path reaches the tree head's root
    signature_valid: bool  # the tree head is signed by the trusted key
    key_trusted: bool
    tree_size: int
    root_hash_hex: str
    key_id: str

    @property
    def ok(self) -> bool:
        return (
            self.leaf_matches
            and self.path_leads_to_root
            and self.signature_valid
            and self.key_trusted
        )
