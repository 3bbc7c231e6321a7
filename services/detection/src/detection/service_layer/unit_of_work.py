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

    async def _write_buffered(self) -> None:
        await self.detections.flush()

    def _discard_buffered(self) -> None:
        self.detections.discard()

    def _buffer_mark(self) -> object:
        return self.detections.mark()

    def _forget_buffered_since(self, mark: object) -> None:
        assert isinstance(mark, int)
        self.detections.forget_since(mark)
