"""The only code that queries detection's tables; maps rows ⇄ domain objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, delete, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from detection.adapters.tables import DetectionRow, IotAlarmRow
from detection.domain.iot import AlarmState
from detection.domain.model import (
    Certainty,
    Circle,
    Detection,
    DetectionStatus,
    EvidenceRef,
    Geocode,
    ImageRegion,
    Place,
    ReportedArea,
    SensorReading,
    Severity,
    SourceKind,
    Urgency,
    WithdrawalKind,
)
from svckit.errors import AlreadyExistsError

DETECTIONS: Table = DetectionRow.__table__  # type: ignore[attr-defined]


# Built once: building a statement per call cost about as much as running it.
_INSERT = insert(DETECTIONS)
_BY_KEY = sa_select(DETECTIONS).where(DETECTIONS.c.idempotency_key == bindparam("key"))
_BY_KEYS = sa_select(DETECTIONS).where(
    DETECTIONS.c.idempotency_key.in_(bindparam("keys", expanding=True))
)


class DetectionRepository:
    """New detections wait in memory and go in with one executemany (at commit,
    or before any read that could need them); a batch's idempotency keys are
    looked up with one query (`preload`). A batch of 100 reports is then a
    handful of statements, not 400 (docs/performance.md, "Ingest alone")."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Added this transaction, not yet written, by idempotency key (in order).
        self._new: dict[str, Detection] = {}
        # Read this transaction, by idempotency key; None: no detection has the key.
        self._known: dict[str, Detection | None] = {}

    async def add(self, detection: Detection) -> None:
        """Queue the detection for insertion.

        A lost race on the idempotency key (another writer stored it after our
        look-up) shows as `AlreadyExistsError` when the row is written: at
        `flush`, which the unit of work calls at commit.
        """
        self._new[detection.idempotency_key] = detection

    async def flush(self) -> None:
        """Write the queued detections, one executemany for all of them."""
        if not self._new:
            return
        rows = [_columns(d) for d in self._new.values()]
        connection = await self._session.connection()
        try:
            await connection.execute(_INSERT, rows)
        except IntegrityError as exc:
            keys = ", ".join(repr(k) for k in self._new)
            raise AlreadyExistsError(f"a detection with one of the keys {keys} exists") from exc
        self._known.update(self._new)
        self._new.clear()

    def mark(self) -> int:
        """How many detections are queued now, for `forget_since`."""
        return len(self._new)

    def forget_since(self, mark: int) -> None:
        """Drop the detections queued after `mark` (their work was refused)."""
        for key in list(self._new)[mark:]:
            del self._new[key]

    def discard(self) -> None:
        """The transaction (or a savepoint) was rolled back: nothing queued stands,
        and what was read may have been undone with it."""
        self._new.clear()
        self._known.clear()

    async def save(self, detection: Detection) -> None:
        """Store a changed detection (its status after a withdrawal or an update)."""
        await self.flush()
        await self._session.merge(_to_row(detection))
        self._known[detection.idempotency_key] = detection

    async def get(self, detection_id: str) -> Detection | None:
        await self.flush()
        row = await self._session.get(DetectionRow, detection_id)
        return _from_row(row) if row else None

    async def preload(self, keys: Sequence[str]) -> None:
        """Look up these idempotency keys in one query, so `find_by_key` answers
        each of them from memory."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._known and k not in self._new]
        if not wanted:
            return
        connection = await self._session.connection()
        for row in await connection.execute(_BY_KEYS, {"keys": wanted}):
            self._known[row.idempotency_key] = _from_row(row)
        for key in wanted:
            self._known.setdefault(key, None)

    async def find_by_key(self, idempotency_key: str) -> Detection | None:
        """The detection this source event made: added or read in this
        transaction, else one indexed look-up."""
        if idempotency_key in self._new:
            return self._new[idempotency_key]
        if idempotency_key in self._known:
            return self._known[idempotency_key]
        connection = await self._session.connection()
        row = (await connection.execute(_BY_KEY, {"key": idempotency_key})).first()
        found = _from_row(row) if row else None
        self._known[idempotency_key] = found
        return found

    async def find_by_keys(self, keys: Sequence[str]) -> list[Detection]:
        """The detections these source events made, oldest first (unknown keys are absent)."""
        if not keys:
            return []
        await self.flush()
        result = await self._session.exec(
            select(DetectionRow)
            .where(col(DetectionRow.idempotency_key).in_(list(keys)))
            .order_by(col(DetectionRow.received_at), col(DetectionRow.detection_id))
        )
        return [_from_row(row) for row in result.all()]

    async def superseded_by(self, detection_id: str) -> Detection | None:
        """The detection that replaced this one (a CAP Update of it), if any."""
        await self.flush()
        result = await self._session.exec(
            select(DetectionRow).where(DetectionRow.supersedes_detection_id == detection_id)
        )
        row = result.first()
        return _from_row(row) if row else None

    async def active_for_alarm(
        self, source_id: str, device_id: str, source_codes: Sequence[str]
    ) -> list[Detection]:
        """A device's detections under these alarm codes that still stand, oldest first."""
        await self.flush()
        result = await self._session.exec(
            select(DetectionRow)
            .where(
                DetectionRow.source_id == source_id,
                DetectionRow.device_id == device_id,
                col(DetectionRow.source_code).in_(list(source_codes)),
                DetectionRow.status == DetectionStatus.ACTIVE.value,
            )
            .order_by(col(DetectionRow.received_at), col(DetectionRow.detection_id))
        )
        return [_from_row(row) for row in result.all()]

    async def purge_received_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` detections received before `cutoff`, oldest
        first, except those a raised IoT alarm still names (its clearing must
        find them). Returns how many went."""
        await self.flush()
        self._known.clear()
        still_raised = select(IotAlarmRow.detection_id).where(col(IotAlarmRow.raised))
        expired = (
            select(DetectionRow.detection_id)
            .where(col(DetectionRow.received_at) < cutoff)
            .where(col(DetectionRow.detection_id).not_in(still_raised))
            .order_by(col(DetectionRow.received_at))
            .limit(limit)
        )
        result = await self._session.exec(
            delete(DetectionRow).where(col(DetectionRow.detection_id).in_(expired))  # type: ignore[call-overload]
        )
        return int(getattr(result, "rowcount", 0) or 0)


class IotAlarmRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, device_id: str, metric: str) -> AlarmState:
        """The alarm's state; a metric never seen is clear, with no reading applied."""
        row = await self._session.get(IotAlarmRow, (device_id, metric))
        if row is None:
            return AlarmState(device_id, metric)
        return AlarmState(
            device_id,
            metric,
            raised=row.raised,
            detection_id=row.detection_id,
            last_value=row.last_value,
            last_reading_at=row.last_reading_at,
        )

    async def save(self, state: AlarmState) -> None:
        await self._session.merge(
            IotAlarmRow(
                device_id=state.device_id,
                metric=state.metric,
                raised=state.raised,
                detection_id=state.detection_id,
                last_value=state.last_value,
                last_reading_at=state.last_reading_at,
            )
        )


def _to_row(d: Detection) -> DetectionRow:
    return DetectionRow(**_columns(d))


def _columns(d: Detection) -> dict[str, Any]:
    return dict(
        detection_id=d.detection_id,
        idempotency_key=d.idempotency_key,
        source_kind=d.source_kind.value,
        source_id=d.source_id,
        source_event_id=d.source_event_id,
        vendor=d.vendor,
        device_id=d.device_id,
        observed_at=d.observed_at,
        received_at=d.received_at,
        latitude=d.place.latitude,
        longitude=d.place.longitude,
        district_code=d.place.district_code,
        street_code=d.place.street_code,
        grid_code=d.place.grid_code,
        category_code=d.category_code,
        urgency=d.urgency.value if d.urgency else "",
        severity=d.severity.value if d.severity else "",
        certainty=d.certainty.value if d.certainty else "",
        confidence=d.confidence,
        model_name=d.model_name,
        model_version=d.model_version,
        evidence=json.dumps([asdict(e) for e in d.evidence], ensure_ascii=False),
        raw_payload_sha256=d.raw_payload_sha256,
        description=d.description,
        source_code=d.source_code,
        component_id=d.component_id,
        supersedes_detection_id=d.supersedes_detection_id,
        area=_dump(d.area),
        region=_dump(d.region),
        reading=_dump(d.reading),
        exercise=d.exercise,
        status=d.status.value,
        withdrawn_at=d.withdrawn_at,
        withdrawal_kind=d.withdrawal_kind.value if d.withdrawal_kind else "",
        withdrawal_reason=d.withdrawal_reason,
    )


def _from_row(row: DetectionRow | Row[Any]) -> Detection:
    return Detection(
        detection_id=row.detection_id,
        idempotency_key=row.idempotency_key,
        source_kind=SourceKind(row.source_kind),
        source_id=row.source_id,
        source_event_id=row.source_event_id,
        vendor=row.vendor,
        device_id=row.device_id,
        observed_at=row.observed_at,
        received_at=row.received_at,
        place=Place(row.latitude, row.longitude, row.district_code, row.street_code, row.grid_code),
        category_code=row.category_code,
        urgency=Urgency(row.urgency) if row.urgency else None,
        severity=Severity(row.severity) if row.severity else None,
        certainty=Certainty(row.certainty) if row.certainty else None,
        confidence=row.confidence,
        model_name=row.model_name,
        model_version=row.model_version,
        evidence=tuple(EvidenceRef(**item) for item in json.loads(row.evidence)),
        raw_payload_sha256=row.raw_payload_sha256,
        description=row.description,
        source_code=row.source_code,
        component_id=row.component_id,
        supersedes_detection_id=row.supersedes_detection_id,
        area=_area(json.loads(row.area)) if row.area else None,
        region=ImageRegion(**json.loads(row.region)) if row.region else None,
        reading=SensorReading(**json.loads(row.reading)) if row.reading else None,
        exercise=row.exercise,
        status=DetectionStatus(row.status),
        withdrawn_at=row.withdrawn_at,
        withdrawal_kind=WithdrawalKind(row.withdrawal_kind) if row.withdrawal_kind else None,
        withdrawal_reason=row.withdrawal_reason,
    )


def _dump(value: ReportedArea | ImageRegion | SensorReading | None) -> str:
    return json.dumps(asdict(value), ensure_ascii=False) if value is not None else ""


def _area(data: dict[str, Any]) -> ReportedArea:
    return ReportedArea(
        description=data["description"],
        polygons=tuple(tuple((lat, lon) for lat, lon in ring) for ring in data["polygons"]),
        circles=tuple(Circle(**c) for c in data["circles"]),
        geocodes=tuple(Geocode(**g) for g in data["geocodes"]),
    )
