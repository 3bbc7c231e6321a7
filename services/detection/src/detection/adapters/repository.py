"""The only code that queries `detection_detection`; maps rows ⇄ `Detection`."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from detection.adapters.tables import DetectionRow
from detection.domain.model import (
    Certainty,
    Detection,
    EvidenceRef,
    Place,
    Severity,
    SourceKind,
    Urgency,
)
from svckit.errors import AlreadyExistsError


class DetectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, detection: Detection) -> None:
        """Insert now (not at commit), so a lost race on the key is seen here.

        Raises `AlreadyExistsError` when another writer stored the same
        idempotency key between our check and this insert.
        """
        self._session.add(_to_row(detection))
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise AlreadyExistsError(
                f"detection with idempotency key {detection.idempotency_key!r} exists"
            ) from exc

    async def get(self, detection_id: str) -> Detection | None:
        row = await self._session.get(DetectionRow, detection_id)
        return _from_row(row) if row else None

    async def find_by_key(self, idempotency_key: str) -> Detection | None:
        result = await self._session.exec(
            select(DetectionRow).where(DetectionRow.idempotency_key == idempotency_key)
        )
        row = result.first()
        return _from_row(row) if row else None


def _to_row(d: Detection) -> DetectionRow:
    return DetectionRow(
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
    )


def _from_row(row: DetectionRow) -> Detection:
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
    )
