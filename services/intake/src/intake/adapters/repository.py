"""Cases and their detection links: the only code that queries those tables.

Case rows are read and written with Core statements over plain mappings, not
ORM objects: every detection and every progress event reads and rewrites one,
and the ORM's per-object bookkeeping was most of intake's CPU under load
(docs/performance.md). Changes wait in memory (reads here see them) and reach
the tables in one executemany per kind when the unit of work commits
(`write_pending`), or before a query that must see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import CaseRow, DetectionLink, DiscardRow
from intake.domain.commands import FileFromDetection
from intake.domain.model import (
    Case,
    CasePage,
    CaseQuery,
    CaseState,
    Evidence,
    FilingSource,
    Place,
    RejectReason,
)
from svckit.rows import insert_rows, rewrite_rows


def _columns(case: Case) -> dict[str, Any]:
    """The row's column values for a case (collections copied: the row owns its own)."""
    return {
        "case_id": case.case_id,
        "category_code": case.category_code,
        "title": case.title,
        "latitude": case.place.latitude,
        "longitude": case.place.longitude,
        "district_code": case.place.district_code,
        "street_code": case.place.street_code,
        "grid_code": case.place.grid_code,
        "urgency": case.urgency,
        "state": case.state.value,
        "filed_at": case.filed_at,
        "updated_at": case.updated_at,
        "source": case.source.value,
        "filed_by": case.filed_by,
        "trace_id": case.trace_id,
        "origin_traceparent": case.origin_traceparent,
        "lead_department_id": case.lead_department_id,
        "deadline": case.deadline,
        "dispatched_at": case.dispatched_at,
        "state_at": case.state_at,
        "detection_count": case.detection_count,
        "certainty": case.certainty,
        "source_scores": dict(case.source_scores),
        "assist_department_ids": list(case.assist_department_ids),
        "released_department_ids": list(case.released_department_ids),
        "escalation_level": case.escalation_level,
        "escalated_at": case.escalated_at,
        "arbitration_requested_at": case.arbitration_requested_at,
        "state_before_backlog": case.state_before_backlog.value
        if case.state_before_backlog
        else "",
        "state_before_backlog_at": case.state_before_backlog_at,
        "reject_reason": case.reject_reason.value if case.reject_reason else "",
        "duplicate_of": case.duplicate_of,
        "triage_note": case.triage_note,
    }


CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
LINKS: Table = DetectionLink.__table__  # type: ignore[attr-defined]

# Asked per event: built once (building a statement per call cost about as
# much as running it).
_CASE_BY_ID = sa_select(CASES).where(CASES.c.case_id == bindparam("case_id"))
_CASES_BY_IDS = sa_select(CASES).where(CASES.c.case_id.in_(bindparam("case_ids", expanding=True)))
_CASE_OF_DETECTION = sa_select(LINKS.c.case_id).where(
    LINKS.c.detection_id == bindparam("detection_id")
)


def _to_case(row: Mapping[Any, Any], links: Sequence[DetectionLink] = ()) -> Case:
    return Case(
        case_id=row["case_id"],
        category_code=row["category_code"],
        title=row["title"],
        place=Place(
            row["latitude"],
            row["longitude"],
            row["district_code"],
            row["street_code"],
            row["grid_code"],
        ),
        urgency=row["urgency"],
        state=CaseState(row["state"]),
        filed_at=row["filed_at"],
        updated_at=row["updated_at"],
        source=FilingSource(row["source"]),
        filed_by=row["filed_by"],
        trace_id=row["trace_id"],
        origin_traceparent=row["origin_traceparent"],
        detection_ids=[link.detection_id for link in links],
        detection_count=row["detection_count"],
        evidence=_evidence(links),
        withdrawn_detection_ids=[link.detection_id for link in links if link.withdrawn_at],
        source_scores=dict(row["source_scores"]),
        certainty=row["certainty"],
        lead_department_id=row["lead_department_id"],
        deadline=row["deadline"],
        dispatched_at=row["dispatched_at"],
        assist_department_ids=list(row["assist_department_ids"]),
        released_department_ids=list(row["released_department_ids"]),
        state_at=row["state_at"],
        escalation_level=row["escalation_level"],
        escalated_at=row["escalated_at"],
        arbitration_requested_at=row["arbitration_requested_at"],
        state_before_backlog=CaseState(row["state_before_backlog"])
        if row["state_before_backlog"]
        else None,
        state_before_backlog_at=row["state_before_backlog_at"],
        reject_reason=RejectReason(row["reject_reason"]) if row["reject_reason"] else None,
        duplicate_of=row["duplicate_of"],
        triage_note=row["triage_note"],
    )


def _evidence(links: Sequence[DetectionLink]) -> list[Evidence]:
    """Every linked detection's evidence, in link order, each item once."""
    seen: dict[tuple[str, str], Evidence] = {}
    for link in links:
        for item in link.evidence:
            evidence = Evidence(**item)
            seen.setdefault((evidence.uri, evidence.sha256), evidence)
    return list(seen.values())


class CaseRepository:
    """Cases and links. What this transaction adds or changes is kept here until
    `write_pending`, so the detection hot path writes a fetched batch's rows in
    a few executemany statements and still finds them when it reads."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Column values of each case read or written in this transaction.
        self._cases: dict[str, dict[str, Any]] = {}
        self._absent: set[str] = set()
        self._to_insert: set[str] = set()
        self._to_update: set[str] = set()
        # Links added in this transaction: their rows until written, and every
        # such detection's case (kept after writing, for `outcome`).
        self._links_to_insert: list[dict[str, Any]] = []
        self._new_links: dict[str, str] = {}
        # Outcomes read ahead for a batch (`preload_outcomes`); a detection in
        # `_looked_up` but not in `_outcomes` was new when the batch began.
        self._outcomes: dict[str, str] = {}
        self._looked_up: set[str] = set()

    async def add(self, case: Case) -> None:
        """Store a new case (its links are added separately, with `link`)."""
        self._cases[case.case_id] = _columns(case)
        self._absent.discard(case.case_id)
        self._to_insert.add(case.case_id)

    def link(self, cmd: FileFromDetection, case_id: str, score: float | None, at: datetime) -> None:
        """Link a detection to a case, keeping what the case needs of it later."""
        self._links_to_insert.append(
            {
                "detection_id": cmd.detection_id,
                "case_id": case_id,
                "linked_at": at,
                "idempotency_key": cmd.idempotency_key,
                "source_key": cmd.source_key,
                "score": score,
                "evidence": [asdict(e) for e in cmd.evidence],
                "withdrawn_at": None,
                "withdrawn_reason": "",
                "cancelled": False,
            }
        )
        self._new_links[cmd.detection_id] = case_id

    async def preload(self, case_ids: Iterable[str]) -> None:
        """A fetched batch's cases in one `IN` query, not one read each."""
        wanted = sorted({c for c in case_ids if c} - self._cases.keys() - self._absent)
        if not wanted:
            return
        connection = await self.session.connection()
        result = await connection.execute(_CASES_BY_IDS, {"case_ids": wanted})
        for found in result:
            self._cases[found.case_id] = dict(found._mapping)
        self._absent.update(set(wanted) - self._cases.keys())

    async def _row(self, case_id: str) -> dict[str, Any] | None:
        if case_id in self._cases:
            return self._cases[case_id]
        if case_id in self._absent:
            return None
        connection = await self.session.connection()
        found = (await connection.execute(_CASE_BY_ID, {"case_id": case_id})).first()
        if found is None:
            self._absent.add(case_id)
            return None
        row = self._cases[case_id] = dict(found._mapping)
        return row

    async def update(self, case: Case) -> None:
        """Write back a case read from this repository (links are not touched)."""
        if await self._row(case.case_id) is None:
            raise LookupError(f"case {case.case_id} is not stored")
        self._cases[case.case_id] = _columns(case)
        if case.case_id not in self._to_insert:
            self._to_update.add(case.case_id)

    async def get(self, case_id: str, *, links: bool = True) -> Case | None:
        """A case; without `links` its detection ids and evidence are left empty (hot path)."""
        row = await self._row(case_id)
        if row is None:
            return None
        if not links:
            return _to_case(row)
        return _to_case(row, (await self._links([case_id])).get(case_id, []))

    async def write_pending(self) -> None:
        """Send this transaction's new and changed cases and new links to the
        database: at commit, and before a query that must see them."""
        connection = await self.session.connection()
        await insert_rows(connection, CASES, [self._cases[c] for c in self._to_insert])
        await rewrite_rows(connection, CASES, "case_id", [self._cases[c] for c in self._to_update])
        await insert_rows(connection, LINKS, self._links_to_insert)
        self._to_insert.clear()
        self._to_update.clear()
        self._links_to_insert = []

    async def case_for_detection(self, detection_id: str) -> str | None:
        """The case a detection is linked to, if any."""
        if detection_id in self._new_links:
            return self._new_links[detection_id]
        connection = await self.session.connection()
        return (
            await connection.execute(_CASE_OF_DETECTION, {"detection_id": detection_id})
        ).scalar()

    async def outcome(self, detection_id: str) -> str | None:
        """What became of a detection: its case id, "" if it was discarded, None if new.

        One query over links and discards (the hot path asks it of every
        detection), unless the batch's preload has answered it already.
        """
        if detection_id in self._new_links:
            return self._new_links[detection_id]
        if detection_id not in self._looked_up:
            await self.preload_outcomes([detection_id])
        return self._outcomes.get(detection_id)

    async def preload_outcomes(self, detection_ids: Iterable[str]) -> None:
        """`outcome` for a fetched batch's detections in one query, not one each.
        (What this transaction links or discards later, `outcome` and the
        discard repository know themselves.)"""
        wanted = sorted(set(detection_ids) - self._looked_up)
        if not wanted:
            return
        linked = select(DetectionLink.detection_id, DetectionLink.case_id).where(
            col(DetectionLink.detection_id).in_(wanted)
        )
        discarded = select(DiscardRow.detection_id, literal("")).where(
            col(DiscardRow.detection_id).in_(wanted)
        )
        rows = (await self.session.exec(union_all(linked, discarded))).all()  # type: ignore[call-overload]
        for detection_id, case_id in rows:
            if case_id or detection_id not in self._outcomes:  # a link wins, as in `outcome`
                self._outcomes[detection_id] = str(case_id)
        self._looked_up.update(wanted)

    async def find_link(self, detection_id: str, idempotency_key: str) -> DetectionLink | None:
        """A detection's link, by id or else by the source's idempotency key."""
        await self.write_pending()  # the link is an ORM object from here on
        if detection_id:
            found = await self.session.get(DetectionLink, detection_id)
            if found is not None or not idempotency_key:
                return found
        if not idempotency_key:
            return None
        rows = await self.session.exec(
            select(DetectionLink).where(col(DetectionLink.idempotency_key) == idempotency_key)
        )
        return rows.first()

    def withdraw(self, link: DetectionLink, reason: str, at: datetime, cancelled: bool) -> None:
        """Mark a link withdrawn: it stays, for the record, and a cancelled one stops counting."""
        link.withdrawn_at = at
        link.withdrawn_reason = reason
        link.cancelled = cancelled
        self.session.add(link)

    async def standing_scores(self, case_id: str) -> list[tuple[str, float | None]]:
        """(source, score) of each of the case's detections that was not cancelled."""
        await self.write_pending()
        rows = await self.session.exec(
            select(DetectionLink).where(
                col(DetectionLink.case_id) == case_id, col(DetectionLink.cancelled).is_(False)
            )
        )
        return [(r.source_key, r.score) for r in rows.all()]

    async def move_links(self, from_case: str, to_case: str) -> list[str]:
        """Relink every detection of one case to another; returns the moved ids.

        Row by row through the ORM (merges are rare and small) so links already
        loaded in this session see their new case.
        """
        links = (await self._links([from_case])).get(from_case, [])
        for link in links:
            link.case_id = to_case
            self.session.add(link)
            if link.detection_id in self._new_links:
                self._new_links[link.detection_id] = to_case
        return [link.detection_id for link in links]

    async def page(self, query: CaseQuery) -> CasePage:
        """Newest first (filing time, then id: ids are time-ordered), or oldest first."""
        await self.write_pending()
        where = []
        if query.states:
            where.append(CASES.c.state.in_([s.value for s in query.states]))
        connection = await self.session.connection()
        counted = sa_select(func.count()).select_from(CASES).where(*where)
        total = int((await connection.execute(counted)).scalar_one())
        order = (CASES.c.filed_at, CASES.c.case_id)
        result = await connection.execute(
            sa_select(CASES)
            .where(*where)
            .order_by(*(order if query.oldest_first else (c.desc() for c in order)))
            .offset(query.offset)
            .limit(query.limit)
        )
        rows = [row._mapping for row in result]
        links = await self._links([r["case_id"] for r in rows])
        cases = [_to_case(r, links.get(r["case_id"], [])) for r in rows]
        end = query.offset + len(cases)
        return CasePage(cases=cases, total=total, next_offset=end if end < total else None)

    async def count_by_state(self) -> dict[str, int]:
        await self.write_pending()
        rows = await self.session.exec(
            select(CaseRow.state, func.count()).group_by(col(CaseRow.state))
        )
        return {state: n for state, n in rows.all()}

    async def _links(self, case_ids: list[str]) -> dict[str, list[DetectionLink]]:
        if not case_ids:
            return {}
        await self.write_pending()
        result = await self.session.exec(
            select(DetectionLink)
            .where(col(DetectionLink.case_id).in_(case_ids))
            .order_by(col(DetectionLink.linked_at), col(DetectionLink.detection_id))
        )
        links: dict[str, list[DetectionLink]] = {}
        for link in result.all():
            links.setdefault(link.case_id, []).append(link)
        return links
