"""gRPC: read access to accepted detections (cityops.detection.v1.DetectionService)."""

from __future__ import annotations

from collections.abc import Callable

from grpc import aio

from cityops.detection.v1 import detection_service_pb2, detection_service_pb2_grpc
from detection.adapters.integration_events import to_proto
from detection.service_layer import handlers
from detection.service_layer.unit_of_work import DetectionUnitOfWork

SERVICE_NAME = detection_service_pb2.DESCRIPTOR.services_by_name["DetectionService"].full_name


class DetectionServicer(detection_service_pb2_grpc.DetectionServiceServicer):  # type: ignore[misc]
    """Translates only; domain errors become gRPC status in svckit's interceptor."""

    def __init__(self, uow: Callable[[], DetectionUnitOfWork]) -> None:
        self._uow = uow

    async def GetDetection(  # noqa: N802 (gRPC method name)
        self,
        request: detection_service_pb2.GetDetectionRequest,
        context: aio.ServicerContext,
    ) -> detection_service_pb2.GetDetectionResponse:
        detection = await handlers.get_detection(request.detection_id, self._uow())
        return detection_service_pb2.GetDetectionResponse(detection=to_proto(detection))
