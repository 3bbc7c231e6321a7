"""Commands: accept a source's report (once per source event), read a detection."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace

from detection.adapters.integration_events import detection_reported
from detection.domain import rules
from detection.domain.commands import ReportDetection
from detection.domain.model import Detection
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import new_id, utcnow
from svckit.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from svckit.logging import get_logger
from svckit.messaging.subjects import DETECTION_REPORTED

log = get_logger(__name__)


@dataclass(frozen=True)
class IngestResult:
    detection_id: str
    # True: this source event was accepted before; nothing was stored or published now.
    duplicate: bool


async def report_detection(
    report: ReportDetection, uow: DetectionUnitOfWork, policy: rules.IngestPolicy
) -> IngestResult:
    """Store and announce a new detection, or return the one this source event already made.

    The duplicate check comes before the other rules: a retry of an accepted
    report gets the original answer even if reference data changed meanwhile.
    """
    key = rules.idempotency_key(report.source_id, report.source_event_id)
    span = trace.get_current_span()
    span.set_attribute("cityops.idempotency_key", key)
    try:
        async with uow:
            prior = await uow.detections.find_by_key(key)
            if prior is not None:
                return _duplicate(prior, report)
            detection = rules.normalise(report, policy, detection_id=new_id(), received_at=utcnow())
            await uow.detections.add(detection)
            uow.publish(detection_reported(detection), subject=DETECTION_REPORTED, case_id="")
            await uow.commit()
    except AlreadyExistsError:
        # Another writer (another replica on PostgreSQL) stored this key after our check.
        async with uow:
            prior = await uow.detections.find_by_key(key)
        if prior is None:
            raise
        return _duplicate(prior, report)
    span.set_attribute("cityops.detection_id", detection.detection_id)
    log.info(
        "detection accepted",
        detection_id=detection.detection_id,
        source_id=detection.source_id,
        category_code=detection.category_code,
        grid_code=detection.place.grid_code,
    )
    return IngestResult(detection.detection_id, duplicate=False)


async def get_detection(detection_id: str, uow: DetectionUnitOfWork) -> Detection:
    if not detection_id.strip():
        raise InvalidArgumentError("detection_id is required")
    async with uow:
        detection = await uow.detections.get(detection_id)
    if detection is None:
        raise NotFoundError(f"no detection {detection_id!r}")
    return detection


def _duplicate(prior: Detection, report: ReportDetection) -> IngestResult:
    trace.get_current_span().set_attribute("cityops.detection_id", prior.detection_id)
    log.info(
        "duplicate detection ignored",
        detection_id=prior.detection_id,
        idempotency_key=prior.idempotency_key,
        # A differing payload under the same key is a source bug worth spotting in logs.
        same_payload=prior.raw_payload_sha256 == report.raw_payload_sha256,
    )
    return IngestResult(prior.detection_id, duplicate=True)
