"""The Merkle tree against an independent reading of RFC 6962 §2.1.

The verifier below is written from the RFC (and RFC 9162 §2.1.3.2/§2.1.4.2,
its algorithmic restatement) and imports nothing of audit's: the component
test checks the service's proofs with it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from audit.domain import merkle

# --- the independent verifier ---------------------------------------------------


def rfc_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def rfc_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) exactly as §2.1 defines it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return rfc_leaf(leaves[0])
    k = rfc_split(len(leaves))
    return rfc_node(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def rfc_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (§2.1.1)."""
    n = len(leaves)
    if n == 1:
        return []
    k = rfc_split(n)
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_mth(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_mth(leaves[:k])]


def rfc_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (§2.1.2)."""

    def subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if whole else [rfc_mth(d)]
        k = rfc_split(n)
        if m <= k:
            return [*subproof(m, d[:k], whole), rfc_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), rfc_mth(d[:k])]

    return subproof(m, leaves, True)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: rebuild the root from a leaf hash and its audit path."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = rfc_node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = rfc_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: both roots from one consistency proof."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = rfc_node(c, fr), rfc_node(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = rfc_node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- audit's implementation, checked against it -----------------------------------


def leaves(n: int) -> list[bytes]:
    return [f"leaf-{i}".encode() for i in range(n)]


def built(data: Sequence[bytes]) -> tuple[list[bytes], dict[merkle.NodeRef, bytes]]:
    """Append leaf by leaf as the ledger does; keep every node it stores."""
    frontier: list[bytes] = []
    nodes: dict[merkle.NodeRef, bytes] = {}
    for i, leaf in enumerate(data):
        hashed = merkle.leaf_hash(leaf)
        nodes[merkle.NodeRef(0, i)] = hashed
        frontier, new = merkle.append_leaf(frontier, i, hashed)
        nodes.update({node.ref: node.hash for node in new})
    return frontier, nodes


SIZES = range(1, 34)


@pytest.mark.parametrize("n", [0, *SIZES])
def test_appending_never_recomputes_yet_the_root_is_the_rfc_mth(n: int) -> None:
    frontier, nodes = built(leaves(n))
    assert merkle.root(frontier) == rfc_mth(leaves(n))
    assert len(frontier) == bin(n).count("1")
    assert sum(1 for ref in nodes if ref.level > 0) == merkle.interior_node_count(n)


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_are_rfc_paths_and_verify(n: int) -> None:
    data = leaves(n)
    _, nodes = built(data)
    root = rfc_mth(data)
    for m in range(n):
        path = merkle.range_hashes(merkle.inclusion_ranges(m, n), nodes)
        assert path == rfc_path(m, data)
        assert verify_inclusion(rfc_leaf(data[m]), m, n, path, root)
        assert not verify_inclusion(rfc_leaf(b"forged"), m, n, path, root)


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_in_an_older_tree_uses_only_what_is_stored_now(n: int) -> None:
    data = leaves(40)
    _, nodes = built(data)  # the ledger has grown to 40 since the head of size n
    for m in range(n):
        path = merkle.range_hashes(merkle.inclusion_ranges(m, n), nodes)
        assert verify_inclusion(rfc_leaf(data[m]), m, n, path, rfc_mth(data[:n]))


@pytest.mark.parametrize("second", SIZES)
def test_consistency_proofs_are_rfc_proofs_and_verify(second: int) -> None:
    data = leaves(second)
    _, nodes = built(data)
    for first in range(1, second + 1):
        proof = merkle.range_hashes(merkle.consistency_ranges(first, second), nodes)
        assert proof == rfc_proof(first, data)
        assert verify_consistency(first, second, proof, rfc_mth(data[:first]), rfc_mth(data))
        forged_first = rfc_mth([b"x", *data[1:first]])
        assert not verify_consistency(first, second, proof, forged_first, rfc_mth(data))


def test_proof_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(ValueError, match="frontier"):
        merkle.append_leaf([], 1, b"\x00" * 32)
