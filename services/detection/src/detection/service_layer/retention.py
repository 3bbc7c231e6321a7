"""Raw detections are kept for the city's retention period and then purged
(docs/security.md, "Data retention"). Cases keep what they need of a
detection in intake's and audit's stores; this store is the ingest record
and the de-duplication index, both only useful for a bounded time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.logging import get_logger

log = get_logger(__name__)


async def purge_expired(
    uow_factory: Callable[[], DetectionUnitOfWork],
    *,
    now: datetime,
    keep: timedelta,
    batch: int,
) -> bool:
    """Purge one batch of detections received more than `keep` before `now`.
    True when the batch was full (more may be waiting). Short transactions,
    so ingest is never held up behind a large purge."""
    async with uow_factory() as uow:
        purged = await uow.detections.purge_received_before(now - keep, batch)
        await uow.commit()
    if purged:
        log.info("expired detections purged", purged=purged, older_than_days=keep.days)
    return purged >= batch
