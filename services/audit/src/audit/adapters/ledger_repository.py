"""The only code that queries the ledger's tables: entries, the appender's
tip, Merkle nodes and signed tree heads. There is deliberately no update or
delete of an entry, a node or a head."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, or_, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from audit.adapters.tables import (
    DetectionCaseRow,
    LedgerEntryRow,
    LedgerTipRow,
    MerkleNodeRow,
    TreeHeadRow,
)
from audit.domain.hashing import GENESIS_HASH
from audit.domain.ledger import LedgerTip
from audit.domain.merkle import NewNode, NodeRef
from audit.domain.model import LedgerEntry
from audit.domain.tree_head import TreeHead
from svckit.rows import insert_rows

# Links written before a query that joins them (see `LedgerRepository.write_links`).
WriteLinks = Callable[[], Awaitable[None]]


class UnreadableEntryError(Exception):
    """A stored entry whose columns cannot even be read back: tampered with."""

    def __init__(self, sequence: int, reason: str) -> None:
        super().__init__(f"entry {sequence} cannot be read: {reason}")
        self.sequence = sequence
        self.reason = reason


_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_CHUNK = 400  # bound parameters per IN query

_TIP: Table = LedgerTipRow.__table__  # type: ignore[attr-defined]
_LINKS: Table = DetectionCaseRow.__table__  # type: ignore[attr-defined]
_ENTRIES: Table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
_NODES: Table = MerkleNodeRow.__table__  # type: ignore[attr-defined]
# Every transaction that appends reads the tip and writes it back, and every
# batch asks which of its events and detections are known: Core statements
# built once, not ORM objects (the ORM's get, flush and per-object work cost
# more than the statements).
_TIP_LOCKED = sa_select(_TIP).where(_TIP.c.id == 1).with_for_update()
_TIP_REWRITE = (
    update(_TIP)
    .where(_TIP.c.id == 1)
    .values(
        size=bindparam("size"),
        head_hash=bindparam("head_hash"),
        frontier=bindparam("frontier"),
        signed_size=bindparam("signed_size"),
    )
)
_KNOWN_EVENTS = sa_select(_ENTRIES.c.event_id).where(
    _ENTRIES.c.event_id.in_(bindparam("ids", expanding=True))
)
_LINKED = sa_select(_LINKS.c.detection_id).where(
    _LINKS.c.detection_id.in_(bindparam("ids", expanding=True))
)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(**{name: getattr(row, name) for name in _ENTRY_FIELDS})


def _entry_columns() -> list[Any]:
    """The entry table's columns in LedgerEntry's field order: rows read with
    them become entries positionally (verification reads millions)."""
    table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
    return [table.c[name] for name in _ENTRY_FIELDS]


def _tip_of(row: Any) -> LedgerTip:
    frontier = [row.frontier[i : i + 32] for i in range(0, len(row.frontier), 32)]
    return LedgerTip(row.size, row.head_hash, frontier, row.signed_size)


def _tip_columns(tip: LedgerTip) -> dict[str, Any]:
    return {
        "size": tip.size,
        "head_hash": tip.head_hash,
        "frontier": b"".join(tip.frontier),
        "signed_size": tip.signed_size,
    }


def _head(row: TreeHeadRow) -> TreeHead:
    return TreeHead(row.tree_size, row.root_hash, row.timestamp_ms, row.key_id, row.signature)


def _chunks(items: Iterable[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class LedgerRepository:
    """Append and read the ledger and its tree.

    Appends are buffered and written by `write_pending()` (the unit of work
    calls it before committing): a batch of 128 events costs three
    multi-row statements — entries, nodes, tip — not three per event.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._tip: LedgerTip | None = None
        # The tip's columns as stored (None: no row yet), to write it back
        # only when it changed.
        self._tip_as_stored: dict[str, Any] | None = None
        self._new_links: list[dict[str, str]] = []
        self._entries: list[dict[str, Any]] = []
        self._nodes: list[dict[str, Any]] = []
        self._event_ids: set[str] = set()
        # Event ids looked up for this transaction (`preload`): found or not.
        self._checked: set[str] = set()
        # Detections on a timeline (read or added in this transaction), and
        # those looked up for it (`preload_links`).
        self._linked: set[str] = set()
        self._links_checked: set[str] = set()

    # --- appending -------------------------------------------------------------

    async def tip(self) -> LedgerTip:
        """The appender's state, row-locked for this transaction (PostgreSQL; on
        SQLite the in-process write lock serialises appenders). Loaded once per
        transaction; appends advance this same object."""
        if self._tip is None:
            connection = await self.session.connection()
            row = (await connection.execute(_TIP_LOCKED)).first()
            if row is None:
                if await self.last_sequence() != 0:
                    raise RuntimeError(
                        "audit ledger has entries but no tip: written by an older version "
                        "(no Merkle tree) or tampered with; run verify-ledger"
                    )
                self._tip = LedgerTip(0, GENESIS_HASH, [], 0)
            else:
                self._tip = _tip_of(row)
                self._tip_as_stored = _tip_columns(self._tip)
        return self._tip

    def append(self, entry: LedgerEntry, nodes: Sequence[NewNode], tip: LedgerTip) -> None:
        """Buffer the entry and the nodes it completed (`tip` has advanced)."""
        assert tip is self._tip, "append to the tip of this transaction"
        # Shallow: the fields are immutable (`asdict` deep-copied each one,
        # most of an append's cost in the adapter).
        self._entries.append({name: getattr(entry, name) for name in _ENTRY_FIELDS})
        self._nodes += [{"level": n.ref.level, "idx": n.ref.index, "hash": n.hash} for n in nodes]
        self._event_ids.add(entry.event_id)

    def save_tip(self, tip: LedgerTip) -> None:
        """Nothing to do until `write_pending`: the tip object is the state."""
        assert tip is self._tip, "save the tip of this transaction"

    async def write_pending(self) -> None:
        """Write buffered entries, nodes, the tip and timeline links (before commit)."""
        connection = await self.session.connection()
        await insert_rows(connection, _ENTRIES, self._entries)
        await insert_rows(connection, _NODES, self._nodes)
        if self._tip is not None:
            columns = _tip_columns(self._tip)
            if self._tip_as_stored is None:
                await connection.execute(insert(_TIP), {"id": 1, **columns})
            elif columns != self._tip_as_stored:
                await connection.execute(_TIP_REWRITE, columns)
            self._tip_as_stored = columns
        self._entries, self._nodes = [], []
        await self.write_links()

    async def write_links(self) -> None:
        """Write the timeline links added in this transaction: at commit, and
        before a query that joins them (machine verification's)."""
        if self._new_links:
            links, self._new_links = self._new_links, []
            await insert_rows(await self.session.connection(), _LINKS, links)

    async def preload(self, event_ids: Iterable[str]) -> None:
        """Which of a batch's events are in the ledger already, in a few `IN`
        queries rather than one query per event."""
        wanted = set(event_ids) - self._checked
        connection = await self.session.connection()
        for chunk in _chunks(wanted):
            result = await connection.execute(_KNOWN_EVENTS, {"ids": chunk})
            self._event_ids.update(result.scalars())
        self._checked |= wanted

    async def has_event(self, event_id: str) -> bool:
        if event_id not in self._checked and event_id not in self._event_ids:
            await self.preload([event_id])
        return event_id in self._event_ids

    async def preload_links(self, detection_ids: Iterable[str]) -> None:
        """Which of a batch's detections are on a timeline already, in `IN`
        queries rather than a look-up per detection."""
        wanted = set(detection_ids) - self._links_checked
        connection = await self.session.connection()
        for chunk in _chunks(wanted):
            result = await connection.execute(_LINKED, {"ids": chunk})
            self._linked.update(result.scalars())
        self._links_checked |= wanted

    async def link_detections(self, case_id: str, detection_ids: tuple[str, ...]) -> None:
        """Put these detections on the case's timeline (first filing wins).

        Not written here: `_linked` already tells a later filing in this
        transaction that they are taken, and the queries that join the links
        (machine verification's) call `write_links` before they read."""
        wanted = [d for d in dict.fromkeys(detection_ids) if d]
        await self.preload_links(wanted)  # reads only those the batch's preload did not
        for detection_id in wanted:
            if detection_id not in self._linked:
                self._new_links.append({"detection_id": detection_id, "case_id": case_id})
                self._linked.add(detection_id)

    def add_tree_head(self, head: TreeHead) -> None:
        self.session.add(
            TreeHeadRow(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                timestamp_ms=head.timestamp_ms,
                key_id=head.key_id,
                signature=head.signature,
            )
        )

    # --- reading -----------------------------------------------------------------

    async def last_sequence(self) -> int:
        result = await self.session.exec(select(func.max(LedgerEntryRow.sequence)))
        return int(result.one() or 0)

    async def stored_tip(self) -> LedgerTip | None:
        """The tip as stored, unlocked (verification compares it)."""
        row = await self.session.get(LedgerTipRow, 1)
        return _tip_of(row) if row is not None else None

    async def timeline(self, case_id: str) -> list[LedgerEntry]:
        """The case's entries and those of the detections it was filed from, in order."""
        linked = select(DetectionCaseRow.detection_id).where(DetectionCaseRow.case_id == case_id)
        result = await self.session.exec(
            select(LedgerEntryRow)
            .where(
                or_(
                    col(LedgerEntryRow.case_id) == case_id,
                    col(LedgerEntryRow.detection_id).in_(linked),
                )
            )
            .order_by(col(LedgerEntryRow.sequence))
        )
        return [_entry(row) for row in result.all()]

    async def page(
        self,
        after: int | None,
        limit: int,
        *,
        event_types: Sequence[str] = (),
        up_to: int | None = None,
        before: datetime | None = None,
    ) -> list[LedgerEntry]:
        """Entries in sequence order after `after` (None: from the very first
        row, whatever its sequence): keyset paging, so a ledger of any size
        is read in bounded memory."""
        table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
        query = sa_select(*_entry_columns()).order_by(table.c.sequence).limit(limit)
        if after is not None:
            query = query.where(table.c.sequence > after)
        if up_to is not None:
            query = query.where(table.c.sequence <= up_to)
        if event_types:
            query = query.where(table.c.event_type.in_(event_types))
        if before is not None:
            query = query.where(table.c.occurred_at < before)
        connection = await self.session.connection()
        result = await connection.execute(query)
        entries: list[LedgerEntry] = []
        try:
            for row in result:
                entries.append(LedgerEntry(*row))
        except (ValueError, TypeError, OverflowError) as exc:
            # A stored value no longer parses (a time edited into garbage):
            # find which entry, by position, with a query that reads no times.
            sequences = await connection.execute(query.with_only_columns(table.c.sequence))
            bad = list(sequences.scalars())[len(entries)]
            raise UnreadableEntryError(bad, str(exc)) from exc
        return entries

    async def entry(self, *, sequence: int = 0, event_id: str = "") -> LedgerEntry | None:
        column = LedgerEntryRow.sequence if sequence else LedgerEntryRow.event_id
        result = await self.session.exec(
            select(LedgerEntryRow).where(col(column) == (sequence or event_id))
        )
        row = result.first()
        return _entry(row) if row else None

    async def sequence_of_hash(self, entry_hash: str) -> int | None:
        """Which stored entry has this chain hash (a scan: only on a fault)."""
        result = await self.session.exec(
            select(LedgerEntryRow.sequence).where(LedgerEntryRow.entry_hash == entry_hash)
        )
        return result.first()

    async def nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, bytes]:
        """Perfect nodes by reference: leaves from the entries, the rest from the node table."""
        wanted = set(refs)
        found: dict[NodeRef, bytes] = {}
        leaves = sorted(r.index + 1 for r in wanted if r.level == 0)
        for chunk in _chunks(leaves):
            leaf_rows = await self.session.exec(
                select(LedgerEntryRow.sequence, LedgerEntryRow.leaf_hash).where(
                    col(LedgerEntryRow.sequence).in_(chunk)
                )
            )
            found.update({NodeRef(0, seq - 1): bytes.fromhex(h) for seq, h in leaf_rows.all()})
        inner = sorted((r.level, r.index) for r in wanted if r.level > 0)
        for chunk in _chunks(inner):
            node_rows = await self.session.exec(
                select(MerkleNodeRow).where(
                    tuple_(col(MerkleNodeRow.level), col(MerkleNodeRow.idx)).in_(chunk)
                )
            )
            found.update({NodeRef(r.level, r.idx): r.hash for r in node_rows.all()})
        return found

    async def node_ranges(self, ranges: dict[int, tuple[int, int]]) -> dict[NodeRef, bytes]:
        """Interior nodes, per level, with index in [first, last]: one query."""
        if not ranges:
            return {}
        result = await self.session.exec(
            select(MerkleNodeRow.level, MerkleNodeRow.idx, MerkleNodeRow.hash).where(
                or_(
                    *(
                        and_(
                            col(MerkleNodeRow.level) == level,
                            col(MerkleNodeRow.idx) >= first,
                            col(MerkleNodeRow.idx) <= last,
                        )
                        for level, (first, last) in ranges.items()
                    )
                )
            )
        )
        return {NodeRef(level, idx): node for level, idx, node in result.all()}

    async def node_count(self) -> int:
        result = await self.session.exec(select(func.count()).select_from(MerkleNodeRow))
        return int(result.one())

    async def tree_head(self, tree_size: int = 0) -> TreeHead | None:
        """The head of that size, or the latest (0)."""
        if tree_size:
            row = await self.session.get(TreeHeadRow, tree_size)
        else:
            result = await self.session.exec(
                select(TreeHeadRow).order_by(col(TreeHeadRow.tree_size).desc()).limit(1)
            )
            row = result.first()
        return _head(row) if row else None

    async def tree_heads(self, after: int, limit: int) -> list[TreeHead]:
        """Heads in size order after `after` (keyset paging)."""
        result = await self.session.exec(
            select(TreeHeadRow)
            .where(TreeHeadRow.tree_size > after)
            .order_by(col(TreeHeadRow.tree_size))
            .limit(limit)
        )
        return [_head(row) for row in result.all()]
