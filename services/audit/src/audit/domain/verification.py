"""Recomputing a stored ledger, one entry at a time, to find the first fault.

The entries are fed in storage order (by sequence) with one entry of
lookahead, so a ledger of any length is checked in constant memory
(the Merkle frontier is O(log n)). Three layers are checked:

1. **the entry and its chain link**, which names naive tampering precisely:
   a changed entry (its hash, payload digest or leaf hash no longer match),
   a deleted one (a gap, or a link to a hash no longer there), two reordered
   (an entry chains to one stored after it), one inserted (the entry after
   it chains past it);
2. **the Merkle tree**: the stored interior nodes (what proofs are served
   from) against the ones recomputed from the entries;
3. **the signed tree heads**: each head's signature, and its root against
   the root recomputed at its size. A forger who rewrites an entry and every
   hash after it passes (1) and (2) but cannot sign: the first head covering
   the change fails, and the fault is narrowed to the entries since the head
   before it. A head larger than the ledger shows entries cut off the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audit.domain import merkle
from audit.domain.hashing import GENESIS_HASH, canonical_json, chain_hash, payload_sha256
from audit.domain.model import LedgerCheck, LedgerEntry
from audit.domain.tree_head import SignatureCheck, TreeHead


@dataclass(frozen=True)
class Fault:
    """The first bad entry (by sequence) and what is wrong."""

    sequence: int
    problem: str


@dataclass(frozen=True)
class Unlinked:
    """An entry whose chain link points somewhere unexpected. Whether that hash
    belongs to another stored entry (the two were reordered) takes a lookup
    the caller makes before calling `unlinked_fault`."""

    sequence: int
    previous_hash: str
    next_chains_past_it: bool


@dataclass(frozen=True)
class LedgerTipState:
    """What the appender keeps so appends never recompute the tree."""

    size: int
    head_hash: str
    frontier: tuple[bytes, ...]


class LedgerVerifier:
    """Streaming recomputation: `entry()` per entry, `tree_head()` whenever the
    recomputed size reaches a stored head, `take_nodes()` to compare the
    nodes recomputed so far with the stored ones, `finish()` at the end."""

    def __init__(self, check_signature: SignatureCheck) -> None:
        self._check_signature = check_signature
        self.size = 0
        # Where the check has got to: the entry being checked, or the last one.
        self.position = 0
        self.frontier: list[bytes] = []
        self.heads_checked = 0
        self._previous, self._before_previous = GENESIS_HASH, ""
        self._last_head_size = 0
        self._new_nodes: list[merkle.NewNode] = []

    def entry(self, entry: LedgerEntry, following: LedgerEntry | None) -> Fault | Unlinked | None:
        """Check the next stored entry; on success it becomes a leaf of the tree."""
        expected = self.position = self.size + 1
        fault: Fault | Unlinked | None = _sequence_fault(entry, expected, following)
        if fault is None and entry.previous_hash != self._previous:
            fault = self._link_fault(entry, expected, following)
        if fault is None:
            fault = self._content_fault(entry, expected, following)
        if fault is not None:
            return fault
        frontier, nodes = merkle.append_leaf(
            self.frontier, self.size, bytes.fromhex(entry.leaf_hash)
        )
        self.frontier, self.size = frontier, expected
        self._new_nodes.extend(nodes)
        self._before_previous, self._previous = self._previous, entry.entry_hash
        return None

    def tree_head(self, head: TreeHead) -> Fault | None:
        """Check a stored head once the recomputed tree has reached its size."""
        first, problem = self._last_head_size + 1, self._check_signature(head)
        if head.tree_size != self.size:
            return Fault(first, f"a tree head claims size {head.tree_size}, which no ledger has")
        if problem:
            return Fault(first, f"tree head {head.tree_size} ({_when(head)}): {problem}")
        if merkle.root(self.frontier) != head.root_hash:
            return Fault(
                first,
                f"tree head {head.tree_size} ({_when(head)}) does not match the entries: "
                f"one of entries {first}..{head.tree_size} was altered and the ledger's "
                "hashes rewritten to hide it",
            )
        self._last_head_size = head.tree_size
        self.heads_checked += 1
        return None

    def take_nodes(self) -> list[merkle.NewNode]:
        """The interior nodes recomputed since the last call, to compare with storage."""
        nodes, self._new_nodes = self._new_nodes, []
        return nodes

    def finish(
        self, later_heads: Iterable[TreeHead], tip: LedgerTipState | None, stored_nodes: int
    ) -> Fault | None:
        """After the last entry: heads beyond it, the appender's tip, stray nodes."""
        n = self.size
        for head in later_heads:
            return Fault(
                n + 1,
                f"entries {n + 1}..{head.tree_size} deleted from the end: a tree head of "
                f"size {head.tree_size} was signed ({_when(head)}) but the ledger ends at {n}",
            )
        if tip is not None and tip.size > n:
            return Fault(
                n + 1,
                f"entries {n + 1}..{tip.size} deleted from the end: the appender recorded "
                f"{tip.size} entries, the ledger holds {n}",
            )
        if tip is not None and tip.size < n:
            return Fault(
                tip.size + 1,
                f"entries {tip.size + 1}..{n} inserted at the end, past the appender's "
                f"record of {tip.size} entries",
            )
        if tip is not None and (tip.head_hash, tip.frontier) != (
            self._previous,
            tuple(self.frontier),
        ):
            return Fault(
                n, "the appender's tip (chain head, Merkle frontier) disagrees with the entries"
            )
        expected_nodes = merkle.interior_node_count(n)
        if stored_nodes != expected_nodes:
            return Fault(
                n,
                f"the Merkle node table holds {stored_nodes} interior nodes; "
                f"a tree of {n} entries has {expected_nodes}",
            )
        return None

    def result(self, fault: Fault | None) -> LedgerCheck:
        """The outcome; entries checked is the position the check reached."""
        root = merkle.root(self.frontier)
        if fault is None:
            return LedgerCheck(True, self.size, 0, "", self.size, root, self.heads_checked)
        return LedgerCheck(
            False,
            self.position,
            fault.sequence,
            fault.problem,
            self.size,
            root,
            self.heads_checked,
        )

    def _link_fault(
        self, entry: LedgerEntry, expected: int, following: LedgerEntry | None
    ) -> Fault | Unlinked:
        if self._before_previous and entry.previous_hash == self._before_previous:
            return Fault(
                expected - 1,
                f"entry {expected - 1} inserted: entry {expected} chains past it "
                f"to {_name(expected - 2)}",
            )
        if following is not None and entry.previous_hash == following.entry_hash:
            return _reordered(expected, following.sequence)
        chains_past = following is not None and following.previous_hash == self._previous
        return Unlinked(expected, entry.previous_hash, chains_past)

    def _content_fault(
        self, entry: LedgerEntry, expected: int, following: LedgerEntry | None
    ) -> Fault | None:
        canonical = canonical_json(entry)
        if chain_hash(entry.previous_hash, canonical) != entry.entry_hash:
            problem = "its fields no longer match its hash"
        elif payload_sha256(entry.payload) != entry.payload_sha256:
            problem = "its stored event body no longer matches its digest"
        elif merkle.leaf_hash(canonical).hex() != entry.leaf_hash:
            problem = "its stored leaf hash does not match its fields"
        else:
            return None
        if following is not None and following.previous_hash == self._previous:
            return _inserted(expected)
        return Fault(expected, f"entry {expected} changed: {problem}")


def unlinked_fault(unlinked: Unlinked, found_at: int | None) -> Fault:
    """Name an unexpected chain link, knowing which stored entry (if any) has
    the hash it points to."""
    n = unlinked.sequence
    if found_at is not None and found_at != n:
        return _reordered(n, found_at)
    if unlinked.next_chains_past_it:
        return _inserted(n)
    return Fault(
        n,
        f"entry {n} does not chain to {_name(n - 1)}: it was altered, or the "
        "entry it followed was deleted or replaced",
    )


def node_fault(
    computed: Sequence[merkle.NewNode], stored: Mapping[merkle.NodeRef, bytes]
) -> Fault | None:
    """The first recomputed interior node that storage lacks or holds differently."""
    for node in computed:
        held = stored.get(node.ref)
        if held != node.hash:
            state = "is missing" if held is None else "does not match the entries"
            first, last = node.ref.first_leaf + 1, node.ref.end_leaf
            return Fault(
                first,
                f"stored Merkle node (level {node.ref.level}, index {node.ref.index}) over "
                f"entries {first}..{last} {state}: proofs served from it would not verify",
            )
    return None


def verify_entries(entries: Sequence[LedgerEntry], check_signature: SignatureCheck) -> LedgerCheck:
    """Check an in-memory list of entries (chain, payloads, leaves): for tests
    and small exports; the service streams through `LedgerVerifier`."""
    verifier = LedgerVerifier(check_signature)
    by_hash = {e.entry_hash: e.sequence for e in entries}
    for index, entry in enumerate(entries):
        following = entries[index + 1] if index + 1 < len(entries) else None
        fault = verifier.entry(entry, following)
        if isinstance(fault, Unlinked):
            fault = unlinked_fault(fault, by_hash.get(fault.previous_hash))
        if fault is not None:
            return verifier.result(fault)
    return verifier.result(None)


def _sequence_fault(
    entry: LedgerEntry, expected: int, following: LedgerEntry | None
) -> Fault | None:
    if entry.sequence == expected:
        return None
    if entry.sequence > expected and (following is None or following.sequence != expected):
        return Fault(
            expected,
            f"entry {expected} deleted: sequence jumps from {_name(expected - 1)} to {entry.sequence}",
        )
    return Fault(
        expected, f"entry {expected} reordered: sequence {entry.sequence} is stored in its place"
    )


def _reordered(sequence: int, after: int) -> Fault:
    return Fault(
        sequence,
        f"entry {sequence} reordered: it was recorded after the entry now at sequence {after}",
    )


def _inserted(sequence: int) -> Fault:
    return Fault(
        sequence,
        f"entry {sequence} inserted: entry {sequence + 1} chains past it to {_name(sequence - 1)}",
    )


def _name(sequence: int) -> str:
    return f"entry {sequence}" if sequence > 0 else "the start of the ledger"


def _when(head: TreeHead) -> str:
    return head.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
