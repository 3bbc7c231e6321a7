"""Reading the ledger as a Merkle log: verifying all of it, proofs, tree heads.

Everything here reads one snapshot without the write lock, so a
verification of a million entries never holds up the appender.
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.adapters.ledger_repository import LedgerRepository, UnreadableEntryError
from audit.domain import proofs, rules
from audit.domain.merkle import NewNode
from audit.domain.model import LedgerCheck, LedgerEntry
from audit.domain.tree_head import SignatureCheck, TreeHead
from audit.domain.verification import (
    Fault,
    LedgerTipState,
    LedgerVerifier,
    Unlinked,
    node_fault,
    unlinked_fault,
)
from audit.service_layer.access import require
from audit.service_layer.context import AuditContext
from audit.service_layer.tree_heads import head_covering
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.errors import NotFoundError
from svckit.grpc.identity import Caller

PAGE = 5000


class _Heads:
    """Signed heads in size order, paged alongside the entries."""

    def __init__(self, ledger: LedgerRepository) -> None:
        self._ledger, self._buffer, self._after, self._done = ledger, list[TreeHead](), 0, False

    async def next(self) -> TreeHead | None:
        if not self._buffer and not self._done:
            self._buffer = await self._ledger.tree_heads(self._after, PAGE)
            self._done = len(self._buffer) < PAGE
            if self._buffer:
                self._after = self._buffer[-1].tree_size
            self._buffer.reverse()
        return self._buffer[-1] if self._buffer else None

    def pop(self) -> None:
        self._buffer.pop()


async def verify_ledger(
    uow: AuditUnitOfWork, trusted: SignatureCheck, caller: Caller | None = None
) -> LedgerCheck:
    """Recompute entries, chain, tree and heads; name the first fault (the CLI
    calls this with no caller)."""
    if caller is not None:
        require(caller, rules.READER_ROLES, "verify the ledger")
    async with uow.snapshot() as view:
        verifier, heads = LedgerVerifier(trusted), _Heads(view.ledger)
        fault = await _walk(view.ledger, verifier, heads)
        if fault is None:
            head = await heads.next()  # the walk checked every head within the ledger
            tip = await view.ledger.stored_tip()
            state = LedgerTipState(tip.size, tip.head_hash, tuple(tip.frontier)) if tip else None
            fault = verifier.finish([head] if head else [], state, await view.ledger.node_count())
    return verifier.result(fault)


async def _walk(ledger: LedgerRepository, verifier: LedgerVerifier, heads: _Heads) -> Fault | None:
    try:
        return await _walk_pages(ledger, verifier, heads)
    except UnreadableEntryError as exc:
        return Fault(
            exc.sequence,
            f"entry {exc.sequence} changed: a stored value is unreadable ({exc.reason})",
        )


async def _walk_pages(
    ledger: LedgerRepository, verifier: LedgerVerifier, heads: _Heads
) -> Fault | None:
    page = await ledger.page(None, PAGE)
    while page:
        following_page = await ledger.page(page[-1].sequence, PAGE) if len(page) == PAGE else []
        for index, entry in enumerate(page):
            following = (
                page[index + 1] if index + 1 < len(page) else next(iter(following_page), None)
            )
            fault = await _entry_fault(ledger, verifier, entry, following)
            while (
                fault is None and (head := await heads.next()) and head.tree_size <= verifier.size
            ):
                heads.pop()
                fault = verifier.tree_head(head)
            if fault is not None:
                return fault
        fault = await _nodes_fault(ledger, verifier.take_nodes())
        if fault is not None:
            return fault
        page = following_page
    return None


async def _entry_fault(
    ledger: LedgerRepository,
    verifier: LedgerVerifier,
    entry: LedgerEntry,
    following: LedgerEntry | None,
) -> Fault | None:
    fault = verifier.entry(entry, following)
    if isinstance(fault, Unlinked):
        return unlinked_fault(fault, await ledger.sequence_of_hash(fault.previous_hash))
    return fault


async def _nodes_fault(ledger: LedgerRepository, computed: Sequence[NewNode]) -> Fault | None:
    """Compare the recomputed interior nodes with storage (one query a page)."""
    ranges: dict[int, tuple[int, int]] = {}
    for node in computed:
        first, last = ranges.get(node.ref.level, (node.ref.index, node.ref.index))
        ranges[node.ref.level] = (min(first, node.ref.index), max(last, node.ref.index))
    return node_fault(computed, await ledger.node_ranges(ranges))


async def inclusion_proof(
    uow: AuditUnitOfWork,
    ctx: AuditContext,
    caller: Caller,
    *,
    sequence: int = 0,
    event_id: str = "",
    tree_size: int = 0,
) -> proofs.InclusionProof:
    """The audit path of an entry; against the latest signed head by default
    (signing one now when the entry is newer than it)."""
    require(caller, rules.READER_ROLES, "read the ledger")
    async with uow.snapshot() as view:
        entry = await view.ledger.entry(sequence=sequence, event_id=event_id)
    if entry is None:
        raise NotFoundError(f"no ledger entry {sequence or event_id!r}")
    if not tree_size:
        tree_size = (await head_covering(uow, ctx.signer, entry.sequence)).tree_size
    async with uow.snapshot() as view:
        proofs.check_inclusion_request(entry.sequence, tree_size, await view.ledger.last_sequence())
        nodes = await view.ledger.nodes(proofs.inclusion_nodes(entry.sequence - 1, tree_size))
        head = await view.ledger.tree_head(tree_size)
    return proofs.inclusion_proof(entry, tree_size, nodes, head)


async def consistency_proof(
    uow: AuditUnitOfWork, caller: Caller, first: int, second: int
) -> proofs.ConsistencyProof:
    """PROOF(first, D[second]); second 0 = the latest signed head."""
    require(caller, rules.READER_ROLES, "read the ledger")
    async with uow.snapshot() as view:
        if not second:
            latest = await view.ledger.tree_head()
            if latest is None:
                raise NotFoundError("no tree head has been signed yet")
            second = latest.tree_size
        proofs.check_consistency_request(first, second, await view.ledger.last_sequence())
        nodes = await view.ledger.nodes(proofs.consistency_nodes(first, second))
        heads = (await view.ledger.tree_head(first), await view.ledger.tree_head(second))
    return proofs.consistency_proof(first, second, nodes, heads)


async def tree_head(uow: AuditUnitOfWork, caller: Caller, tree_size: int = 0) -> TreeHead:
    require(caller, rules.READER_ROLES, "read the ledger")
    async with uow.snapshot() as view:
        head = await view.ledger.tree_head(tree_size)
    if head is None:
        raise NotFoundError(
            f"no tree head signed at size {tree_size}" if tree_size else "no tree head signed yet"
        )
    return head


async def latest_tree_head(uow: AuditUnitOfWork) -> TreeHead | None:
    async with uow.snapshot() as view:
        return await view.ledger.tree_head()
