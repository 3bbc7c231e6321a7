"""The ledger's Merkle tree, exactly as RFC 6962 §2.1 defines it.

    MTH({})      = SHA-256()
    MTH({d0})    = SHA-256(0x00 || d0)                        (leaf hash)
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) (k = largest power of 2 < n)

Leaf i is the canonical encoding of the entry with sequence i + 1.

Storage is append-only and never recomputes the tree:
- a *perfect node* is the root of an aligned subtree of 2**level leaves,
  `NodeRef(level, index)` covering leaves [index·2**level, (index+1)·2**level);
  each is written once, when its last leaf arrives;
- the *frontier* is the list of perfect nodes the current size decomposes
  into (one per set bit of the size, largest first): appending a leaf merges
  it with the frontier's smallest nodes (O(log n), amortised O(1) new nodes)
  and the root is the frontier folded right to left.

Every hash an RFC 6962 proof needs is the MTH of a range [a, b) that the
definition's recursion produces; such a range is a perfect node, or (at the
right edge of the tree) a short list of perfect nodes folded right to left.
The functions here say *which* ranges and nodes a proof needs, so the caller
can fetch them in one query and assemble the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


@dataclass(frozen=True, order=True)
class NodeRef:
    """The perfect subtree of 2**level leaves starting at leaf index·2**level."""

    level: int
    index: int

    @property
    def first_leaf(self) -> int:
        return self.index << self.level

    @property
    def end_leaf(self) -> int:
        return (self.index + 1) << self.level


@dataclass(frozen=True)
class NewNode:
    """A perfect node completed by an append (level ≥ 1; leaves are the entries)."""

    ref: NodeRef
    hash: bytes


def largest_power_of_two_below(n: int) -> int:
    """k with k < n ≤ 2k (n ≥ 2), the split point of RFC 6962's recursion."""
    if n < 2:
        raise ValueError("a split needs at least two leaves")
    return 1 << ((n - 1).bit_length() - 1)


def append_leaf(
    frontier: Sequence[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[NewNode]]:
    """Append leaf hash `leaf` as leaf number `size` (0-based) to a tree whose
    frontier is `frontier`; return the new frontier and the nodes completed."""
    if len(frontier) != size.bit_count():
        raise ValueError(f"a frontier of a tree of {size} leaves has {size.bit_count()} nodes")
    stack = list(frontier)
    current, level, index, completed = leaf, 0, size, []
    while (size >> level) & 1:
        current = node_hash(stack.pop(), current)
        level, index = level + 1, index >> 1
        completed.append(NewNode(NodeRef(level, index), current))
    stack.append(current)
    return stack, completed


def frontier_refs(size: int) -> list[NodeRef]:
    """The perfect nodes a tree of `size` leaves decomposes into, largest first."""
    refs, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if (size >> level) & 1:
            refs.append(NodeRef(level, start >> level))
            start += 1 << level
    return refs


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees, largest first (a frontier, a range cover)."""
    if not hashes:
        return EMPTY_ROOT
    current = hashes[-1]
    for left in reversed(hashes[:-1]):
        current = node_hash(left, current)
    return current


def root(frontier: Sequence[bytes]) -> bytes:
    """The tree head: MTH of the whole tree, from its frontier."""
    return fold(frontier)


Range = tuple[int, int]


def cover(first: int, end: int) -> list[NodeRef]:
    """The perfect nodes whose fold is MTH(D[first:end]) for a range RFC 6962's
    recursion produces (its left parts are aligned perfect subtrees)."""
    refs = []
    while first < end:
        level = 0
        while first % (2 << level) == 0 and first + (2 << level) <= end:
            level += 1
        refs.append(NodeRef(level, first >> level))
        first += 1 << level
    return refs


def inclusion_ranges(leaf_index: int, size: int) -> list[Range]:
    """PATH(m, D[n]) as the ranges whose MTHs it lists, leaf side first."""
    if not 0 <= leaf_index < size:
        raise ValueError(f"leaf {leaf_index} is not in a tree of {size} leaves")
    path: list[Range] = []
    offset, m, n = 0, leaf_index, size
    while n > 1:
        k = largest_power_of_two_below(n)
        if m < k:
            path.append((offset + k, offset + n))
            n = k
        else:
            path.append((offset, offset + k))
            offset, m, n = offset + k, m - k, n - k
    path.reverse()
    return path


def consistency_ranges(first_size: int, second_size: int) -> list[Range]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as ranges, in RFC 6962 order."""
    if not 0 < first_size <= second_size:
        raise ValueError(f"no consistency proof from size {first_size} to {second_size}")
    proof: list[Range] = []
    offset, m, n, whole = 0, first_size, second_size, True
    while m != n:
        k = largest_power_of_two_below(n)
        if m <= k:
            proof.append((offset + k, offset + n))
            n = k
        else:
            proof.append((offset, offset + k))
            offset, m, n, whole = offset + k, m - k, n - k, False
    if not whole:
        proof.append((offset, offset + n))
    proof.reverse()
    return proof


def needed_nodes(ranges: Sequence[Range]) -> set[NodeRef]:
    """Every perfect node the MTHs of `ranges` are folded from."""
    return {ref for first, end in ranges for ref in cover(first, end)}


def range_hashes(ranges: Sequence[Range], nodes: Mapping[NodeRef, bytes]) -> list[bytes]:
    """The MTH of each range, from fetched perfect nodes."""
    return [fold([nodes[ref] for ref in cover(first, end)]) for first, end in ranges]


def interior_node_count(size: int) -> int:
    """How many perfect nodes of level ≥ 1 a tree of `size` leaves has."""
    return sum(size >> level for level in range(1, size.bit_length()))
