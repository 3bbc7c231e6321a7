"""VerifyLedger's rule: each kind of tampering is caught and named by its sequence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from audit.domain.hashing import compute_entry_hash
from audit.domain.ledger import chain_entry, verify_chain
from audit.domain.model import EventFacts, LedgerEntry

ChainFactory = Callable[[int], list[LedgerEntry]]
FactsFactory = Callable[..., EventFacts]


def renumbered(entries: list[LedgerEntry], start: int, delta: int) -> list[LedgerEntry]:
    """What an UPDATE ... SET sequence = sequence + delta does (hashes untouched)."""
    return [replace(e, sequence=e.sequence + delta) if e.sequence >= start else e for e in entries]


def test_an_intact_chain_and_an_empty_one_are_ok(make_chain: ChainFactory) -> None:
    check = verify_chain(make_chain(6))
    assert (check.ok, check.entries_checked, check.first_bad_sequence, check.problem) == (
        True,
        6,
        0,
        "",
    )
    assert verify_chain([]).ok


def test_a_changed_byte_is_named(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    entries[2] = replace(entries[2], summary=entries[2].summary.replace("3", "8"))
    check = verify_chain(entries)
    assert not check.ok and check.first_bad_sequence == 3
    assert "entry 3 changed" in check.problem
    assert check.entries_checked == 3


def test_a_changed_hash_is_named(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    entries[3] = replace(entries[3], entry_hash="f" * 64)
    check = verify_chain(entries)
    assert check.first_bad_sequence == 4 and "changed" in check.problem


def test_a_deleted_entry_leaves_a_gap(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    del entries[2]
    check = verify_chain(entries)
    assert check.first_bad_sequence == 3
    assert "entry 3 deleted" in check.problem


def test_a_deleted_entry_hidden_by_renumbering_breaks_the_chain(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    del entries[2]
    check = verify_chain(renumbered(entries, 4, -1))
    assert check.first_bad_sequence == 3
    assert "entry 3 does not chain to entry 2" in check.problem


def test_two_swapped_entries_are_reordered(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    # Swapping the sequence numbers of rows 3 and 4: storage order follows them.
    third, fourth = entries[2], entries[3]
    entries[2], entries[3] = replace(fourth, sequence=3), replace(third, sequence=4)
    check = verify_chain(entries)
    assert check.first_bad_sequence == 3
    assert "entry 3 reordered" in check.problem


def test_swapped_positions_with_their_sequences_are_reordered(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    entries[2], entries[3] = entries[3], entries[2]
    check = verify_chain(entries)
    assert check.first_bad_sequence == 3 and "reordered" in check.problem


def test_an_inserted_entry_with_a_forged_hash_is_named(
    make_chain: ChainFactory, make_facts: FactsFactory
) -> None:
    entries = make_chain(6)
    forged = chain_entry(
        make_facts(summary="核查通过"),
        sequence=3,
        previous_hash=entries[1].entry_hash,
        recorded_at=entries[2].recorded_at,
        trace_id="",
        span_id="",
    )
    tampered = [*entries[:2], forged, *renumbered(entries[2:], 3, 1)]
    assert compute_entry_hash(forged.previous_hash, forged) == forged.entry_hash
    check = verify_chain(tampered)
    assert check.first_bad_sequence == 3
    assert "entry 3 inserted" in check.problem


def test_an_inserted_entry_with_a_made_up_hash_is_named(make_chain: ChainFactory) -> None:
    entries = make_chain(6)
    junk = replace(
        entries[0],
        sequence=3,
        event_id="evt-x",
        previous_hash=entries[1].entry_hash,
        entry_hash="a" * 64,
    )
    check = verify_chain([*entries[:2], junk, *renumbered(entries[2:], 3, 1)])
    assert check.first_bad_sequence == 3
    assert "entry 3 inserted" in check.problem


def test_a_first_entry_inserted_before_the_start_is_named(
    make_chain: ChainFactory, make_facts: FactsFactory
) -> None:
    entries = make_chain(3)
    forged = chain_entry(
        make_facts(),
        sequence=1,
        previous_hash="0" * 64,
        recorded_at=entries[0].recorded_at,
        trace_id="",
        span_id="",
    )
    check = verify_chain([forged, *renumbered(entries, 1, 1)])
    assert check.first_bad_sequence == 1
    assert "entry 1 inserted: entry 2 chains past it to the start of the ledger" in check.problem
