"""The detection service's unit of work: detections, alarm state, outbox and inbox in one transaction."""

from __future__ import annotations

from detection.adapters.repository import DetectionRepository, IotAlarmRepository
from svckit.uow import SqlUnitOfWork


class DetectionUnitOfWork(SqlUnitOfWork):
    detections: DetectionRepository
    alarms: IotAlarmRepository

    def _open(self) -> None:
        self.detections = DetectionRepository(self.session)
        self.alarms = IotAlarmRepository(self.session)
