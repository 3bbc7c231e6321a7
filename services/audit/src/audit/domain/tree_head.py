"""Signed tree heads (STH): what is signed, and when a new one is due.

The signed bytes are RFC 6962 §3.5's TreeHeadSignature, so any CT tooling
reader recognises them::

    version        1 byte   0      (v1)
    signature_type 1 byte   1      (tree_hash)
    timestamp      8 bytes  milliseconds since the Unix epoch, big-endian
    tree_size      8 bytes  big-endian
    root_hash      32 bytes MTH of the first tree_size leaves

signed with Ed25519 (RFC 8032) by the key whose id (hex SHA-256 of the raw
32-byte public key) the head names.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

VERSION_V1 = 0
SIGNATURE_TYPE_TREE_HASH = 1
ALGORITHM = "Ed25519"


def tree_head_signed_bytes(timestamp_ms: int, tree_size: int, root_hash: bytes) -> bytes:
    """The exact bytes a tree head's signature covers."""
    if len(root_hash) != 32:
        raise ValueError("a root hash is 32 bytes")
    return (
        struct.pack(">BBQQ", VERSION_V1, SIGNATURE_TYPE_TREE_HASH, timestamp_ms, tree_size)
        + root_hash
    )


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    @property
    def signed_bytes(self) -> bytes:
        return tree_head_signed_bytes(self.timestamp_ms, self.tree_size, self.root_hash)

    @property
    def signed_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


class Signer(Protocol):
    """Signs tree heads; the key stays in the adapter that loaded it."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


SignatureCheck = Callable[[TreeHead], str]
"""Checks a tree head's signature against the keys a verifier trusts:
"" when it is good, else why not."""


def sign_tree_head(signer: Signer, tree_size: int, root_hash: bytes, at: datetime) -> TreeHead:
    timestamp_ms = int(at.timestamp() * 1000)
    signature = signer.sign(tree_head_signed_bytes(timestamp_ms, tree_size, root_hash))
    return TreeHead(tree_size, root_hash, timestamp_ms, signer.key_id, signature)


@dataclass(frozen=True)
class TreeHeadPolicy:
    """A head is signed every `every_entries` entries (in the appending
    transaction) and, when the tree has grown, every `every_seconds` (timer)."""

    every_entries: int = 1000
    every_seconds: float = 30.0

    def due_by_count(self, tree_size: int, last_signed_size: int) -> bool:
        return tree_size - last_signed_size >= self.every_entries

    @staticmethod
    def due_by_time(tree_size: int, last_signed_size: int) -> bool:
        return tree_size > last_signed_size
