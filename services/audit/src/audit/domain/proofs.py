"""Inclusion and consistency proofs (RFC 6962 §2.1.1, §2.1.2) as the service
hands them out: the hashes, plus what a reader needs to check them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit.domain import merkle
from audit.domain.model import LedgerEntry
from audit.domain.tree_head import TreeHead
from svckit.errors import FailedPreconditionError, InvalidArgumentError


@dataclass(frozen=True)
class InclusionProof:
    entry: LedgerEntry
    tree_size: int
    audit_path: tuple[bytes, ...]
    root_hash: bytes
    # The signed head of tree_size, when one was signed at exactly that size.
    head: TreeHead | None = None

    @property
    def leaf_index(self) -> int:
        return self.entry.sequence - 1


@dataclass(frozen=True)
class ConsistencyProof:
    first_size: int
    second_size: int
    proof: tuple[bytes, ...]
    first_root: bytes
    second_root: bytes
    first_head: TreeHead | None = None
    second_head: TreeHead | None = None


def check_inclusion_request(sequence: int, tree_size: int, ledger_size: int) -> None:
    """Refuse a proof for an entry or a tree that does not exist."""
    if tree_size < sequence:
        raise InvalidArgumentError(f"entry {sequence} is not in a tree of {tree_size} entries")
    if tree_size > ledger_size:
        raise FailedPreconditionError(f"the ledger holds {ledger_size} entries, not {tree_size}")


def check_consistency_request(first: int, second: int, ledger_size: int) -> None:
    if not 0 < first <= second:
        raise InvalidArgumentError(
            f"a consistency proof needs 0 < first ≤ second; got {first} and {second}"
        )
    if second > ledger_size:
        raise FailedPreconditionError(f"the ledger holds {ledger_size} entries, not {second}")


def inclusion_nodes(leaf_index: int, tree_size: int) -> set[merkle.NodeRef]:
    """Every stored node the proof and its root are folded from."""
    ranges = [*merkle.inclusion_ranges(leaf_index, tree_size), (0, tree_size)]
    return merkle.needed_nodes(ranges)


def inclusion_proof(
    entry: LedgerEntry,
    tree_size: int,
    nodes: Mapping[merkle.NodeRef, bytes],
    head: TreeHead | None = None,
) -> InclusionProof:
    path = merkle.range_hashes(merkle.inclusion_ranges(entry.sequence - 1, tree_size), nodes)
    (root,) = merkle.range_hashes([(0, tree_size)], nodes)
    return InclusionProof(entry, tree_size, tuple(path), root, head)


def consistency_nodes(first: int, second: int) -> set[merkle.NodeRef]:
    ranges = [*merkle.consistency_ranges(first, second), (0, first), (0, second)]
    return merkle.needed_nodes(ranges)


def consistency_proof(
    first: int,
    second: int,
    nodes: Mapping[merkle.NodeRef, bytes],
    heads: tuple[TreeHead | None, TreeHead | None] = (None, None),
) -> ConsistencyProof:
    proof = merkle.range_hashes(merkle.consistency_ranges(first, second), nodes)
    first_root, second_root = merkle.range_hashes([(0, first), (0, second)], nodes)
    return ConsistencyProof(first, second, tuple(proof), first_root, second_root, *heads)
