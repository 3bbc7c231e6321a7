"""Appending to the ledger: the next entry, its chain link, its leaf, and the
Merkle nodes it completes, from the appender's tip alone (never the tree).

The hash chain is kept beside the Merkle tree: it costs one hash per entry
and lets verification name the exact entry naive tampering touched, which a
Merkle root alone cannot. The signed tree heads cover what a chain cannot:
entries cut off or forged at the end, and wholesale rewrites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from audit.domain import merkle
from audit.domain.hashing import GENESIS_HASH, compute_entry_hash, compute_leaf_hash
from audit.domain.model import EventFacts, LedgerCheck, LedgerEntry
from audit.domain.tree_head import TreeHead
from audit.domain.verification import verify_entries


@dataclass
class LedgerTip:
    """The appender's state: size, chain head, Merkle frontier, last signed size."""

    size: int = 0
    head_hash: str = GENESIS_HASH
    frontier: list[bytes] = field(default_factory=list)
    signed_size: int = 0

    @property
    def root(self) -> bytes:
        return merkle.root(self.frontier)


def chain_entry(
    facts: EventFacts,
    *,
    sequence: int,
    previous_hash: str,
    recorded_at: datetime,
    trace_id: str,
    span_id: str,
) -> LedgerEntry:
    """The entry recording `facts` right after the entry hashed `previous_hash`."""
    unhashed = LedgerEntry(
        sequence=sequence,
        case_id=facts.case_id,
        event_id=facts.event_id,
        event_type=facts.event_type,
        subject=facts.subject,
        producer=facts.producer,
        occurred_at=facts.occurred_at,
        recorded_at=recorded_at,
        actor_user_id=facts.actor_user_id,
        department_id=facts.ledger_department_id,
        summary=facts.summary,
        trace_id=trace_id,
        span_id=span_id,
        payload_sha256=facts.payload_sha256,
        previous_hash=previous_hash,
        entry_hash="",
        detection_id=facts.detection_id,
        payload=facts.payload,
    )
    return replace(
        unhashed,
        entry_hash=compute_entry_hash(previous_hash, unhashed),
        leaf_hash=compute_leaf_hash(unhashed),
    )


def append(
    tip: LedgerTip,
    facts: EventFacts,
    *,
    recorded_at: datetime,
    trace_id: str,
    span_id: str,
) -> tuple[LedgerEntry, list[merkle.NewNode]]:
    """The next entry and the interior nodes it completes; advances `tip`."""
    entry = chain_entry(
        facts,
        sequence=tip.size + 1,
        previous_hash=tip.head_hash,
        recorded_at=recorded_at,
        trace_id=trace_id,
        span_id=span_id,
    )
    tip.frontier, nodes = merkle.append_leaf(tip.frontier, tip.size, bytes.fromhex(entry.leaf_hash))
    tip.size, tip.head_hash = entry.sequence, entry.entry_hash
    return entry, nodes


def verify_chain(entries: Sequence[LedgerEntry]) -> LedgerCheck:
    """Check an in-memory list of entries that no tree head covers yet."""

    def no_heads(_head: TreeHead) -> str:
        return "no tree heads expected"

    return verify_entries(entries, no_heads)
