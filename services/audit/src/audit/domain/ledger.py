"""The append-only ledger as a hash chain: making the next entry, and checking
a stored chain for the ways it can have been tampered with.

A plain hash chain proves that nothing *inside* it was changed, removed,
reordered or slipped in; it cannot prove that entries were not cut off the
end, nor that a forger who knows the (public) rule did not append at the
end. Signed tree heads over a Merkle log (a later issue) close that gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from audit.domain.hashing import GENESIS_HASH, compute_entry_hash
from audit.domain.model import ChainCheck, EventFacts, LedgerEntry


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
    )
    return replace(unhashed, entry_hash=compute_entry_hash(previous_hash, unhashed))


def verify_chain(entries: Sequence[LedgerEntry]) -> ChainCheck:
    """Recompute the chain over `entries` in storage order; stop at the first fault.

    Sequences must run 1..n without gaps, each entry must chain to the stored
    hash of the one before it, and each entry's hash must match its fields.
    The fault is named by the sequence where it is seen: a changed entry, a
    deleted one (a gap, or a chain link to a hash no stored entry has), two
    entries reordered (an entry chains to one stored after it), or one
    inserted (the entry after it chains past it).
    """
    by_hash = {e.entry_hash: e.sequence for e in entries}
    present = {e.sequence for e in entries}
    previous, before_previous = GENESIS_HASH, ""
    for index, entry in enumerate(entries):
        expected = index + 1
        following = entries[index + 1] if index + 1 < len(entries) else None
        fault = _sequence_fault(entry, expected, present)
        if not fault and entry.previous_hash != previous:
            fault = _link_fault(entry, expected, before_previous, previous, by_hash, following)
        if not fault and compute_entry_hash(entry.previous_hash, entry) != entry.entry_hash:
            fault = _content_fault(expected, previous, following)
        if fault:
            bad_sequence, problem = fault
            return ChainCheck(False, expected, bad_sequence, problem)
        before_previous, previous = previous, entry.entry_hash
    return ChainCheck(True, len(entries))


Fault = tuple[int, str] | None


def _sequence_fault(entry: LedgerEntry, expected: int, present: set[int]) -> Fault:
    if entry.sequence == expected:
        return None
    if entry.sequence > expected and expected not in present:
        return expected, (
            f"entry {expected} deleted: sequence jumps from {_name(expected - 1)} to {entry.sequence}"
        )
    return expected, (
        f"entry {expected} reordered: sequence {entry.sequence} is stored in its place"
    )


def _link_fault(
    entry: LedgerEntry,
    expected: int,
    before_previous: str,
    previous: str,
    by_hash: dict[str, int],
    following: LedgerEntry | None,
) -> Fault:
    if before_previous and entry.previous_hash == before_previous:
        return expected - 1, (
            f"entry {expected - 1} inserted: entry {expected} chains past it "
            f"to {_name(expected - 2)}"
        )
    if entry.previous_hash in by_hash:
        return expected, (
            f"entry {expected} reordered: it was recorded after the entry now at "
            f"sequence {by_hash[entry.previous_hash]}"
        )
    if following is not None and following.previous_hash == previous:
        return expected, (
            f"entry {expected} inserted: entry {expected + 1} chains past it to {_name(expected - 1)}"
        )
    return expected, (
        f"entry {expected} does not chain to {_name(expected - 1)}: it was altered, or the "
        "entry it followed was deleted or replaced"
    )


def _content_fault(expected: int, previous: str, following: LedgerEntry | None) -> Fault:
    if following is not None and following.previous_hash == previous:
        return expected, (
            f"entry {expected} inserted: entry {expected + 1} chains past it to {_name(expected - 1)}"
        )
    return expected, f"entry {expected} changed: its fields no longer match its hash"


def _name(sequence: int) -> str:
    return f"entry {sequence}" if sequence > 0 else "the start of the ledger"
