"""The detection service's unit of work: detections, outbox and inbox in one transaction."""

from __future__ import annotations

from detection.adapters.repository import DetectionRepository
from svckit.uow import SqlUnitOfWork


class DetectionUnitOfWork(SqlUnitOfWork):
    detections: DetectionRepository

    def _open(self) -> None:
        self.detections = DetectionRepository(self.session)
