"""Sensor readings → alarms with hysteresis → detections (raised) and withdrawals (cleared).

A message's readings are applied in one transaction with the alarm state, so
a crash between them cannot raise an alarm twice or lose a clear. A reading no
newer than the last one applied to its metric (a redelivery, a late packet) is
skipped, which makes replays from the JetStream consumer harmless.
"""

from __future__ import annotations

from dataclasses import replace

from detection.domain import iot, rules
from detection.domain.commands import RecordTelemetry, Skipped
from detection.domain.iot import IotConfig, Transition
from detection.domain.model import DetectionStatus, WithdrawalKind
from detection.domain.problems import FieldProblem, InvalidReportError
from detection.service_layer.handlers import IngestResult, Outcome, accept, withdraw
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit.clock import utcnow
from svckit.logging import get_logger

log = get_logger(__name__)


async def record_telemetry(
    cmd: RecordTelemetry,
    uow: DetectionUnitOfWork,
    policy: rules.IngestPolicy,
    config: IotConfig,
) -> Outcome:
    """Apply one message of readings; refused (nothing changes) if the device is
    unknown or the time is unusable."""
    device = config.device(cmd.device_id)
    problems: list[FieldProblem] = []
    at = rules.parse_time(cmd.observed_at, utcnow(), policy.max_future_skew, problems, "ts")
    if at is None:
        raise InvalidReportError(problems)
    raised: list[IngestResult] = []
    cleared: list[str] = []
    skipped: list[Skipped] = []
    async with uow:
        for metric, value in sorted(cmd.readings.items()):
            rule = config.rule(device, metric)
            if rule is None:
                skipped.append(Skipped(f"readings.{metric}", "no rule for this metric"))
                continue
            state = await uow.alarms.get(device.device_id, metric)
            if state.is_stale(at):
                skipped.append(Skipped(f"readings.{metric}", "not newer than the last reading"))
                continue
            earlier = state.detection_id
            state, transition = state.apply(rule, value, at)
            if transition is Transition.RAISE:
                report = iot.detection_report(
                    device, metric, rule, value, at, cmd.raw_payload_sha256
                )
                result = await accept(report, uow, policy)
                raised.append(result)
                state = replace(state, detection_id=result.detection_id)
            elif transition is Transition.CLEAR and earlier:
                detection = await uow.detections.get(earlier)
                if detection is not None and detection.status is DetectionStatus.ACTIVE:
                    reason = f"{metric} {value:g} {rule.unit}: back past {rule.clear_at:g}"
                    await withdraw(detection, WithdrawalKind.CLEARED, reason, uow)
                    cleared.append(earlier)
            await uow.alarms.save(state)
        await uow.commit()
    if raised or cleared:
        log.info(
            "telemetry applied",
            device_id=device.device_id,
            raised=[r.detection_id for r in raised],
            cleared=cleared,
        )
    return Outcome(tuple(raised), tuple(cleared), tuple(skipped))
