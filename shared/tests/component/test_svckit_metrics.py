"""/metrics reports what the runtime saw: events out and in, lag, backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cityops.intake.v1 import case_pb2, events_pb2
from svckit.messaging.envelope import IncomingEvent
from svckit.messaging.subjects import CASE_FILED
from svckit.metrics import REGISTRY
from svckit.natsserver import NatsServer
from svckit.runtime import ServiceRuntime
from svckit.settings import ServiceSettings
from svckit.testing.polling import eventually
from svckit.uow import SqlUnitOfWork


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def _batch_figures(value: Callable[[str, dict[str, str]], float | None]) -> tuple[float, float]:
    """Messages and batches the dispatch-intake worker has counted so far."""
    labels = {"consumer": "dispatch-intake"}
    return (
        value("cityops_consumer_batch_messages_sum", labels) or 0.0,
        value("cityops_consumer_batch_messages_count", labels) or 0.0,
    )


async def test_metrics_report_published_consumed_and_lag(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    producer = ServiceRuntime(
        "intake", ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path / "p"), SqlUnitOfWork
    )
    await producer.start_infrastructure()
    consumer = ServiceRuntime(
        "dispatch",
        ServiceSettings(nats_url=nats_server.url, data_dir=tmp_path / "c", metrics_port=0),
        SqlUnitOfWork,
    )
    await consumer.start_infrastructure(producer=False)

    async def ignore(event: IncomingEvent, uow: SqlUnitOfWork) -> None:
        return None

    worker = await consumer.subscribe("intake", ignore)
    batches_before = _batch_figures(REGISTRY.get_sample_value)
    async with producer.uow() as uow:
        for i in range(3):
            uow.publish(
                events_pb2.CaseFiled(case=case_pb2.Case(case_id=f"C-{i}")),
                subject=CASE_FILED,
                case_id=f"C-{i}",
            )
        await uow.commit()
    await producer.relay.publish_pending()
    runtime_task = asyncio.create_task(consumer.run())
    await eventually(lambda: worker.handled == 3)
    await consumer.metrics.sample_once()
    assert consumer.metrics_server is not None
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{consumer.metrics_server.port}/metrics")).text
    assert metric(text, "cityops_events_published_total", subject=CASE_FILED) >= 3
    assert (
        metric(
            text,
            "cityops_events_consumed_total",
            consumer="dispatch-intake",
            subject=CASE_FILED,
            outcome="ok",
        )
        >= 3
    )
    assert (
        metric(
            text, "cityops_consumer_pending_messages", consumer="dispatch-intake", stream="INTAKE"
        )
        == 0
    )
    assert "cityops_handler_seconds_bucket" in text
    # The three events came in one to three fetched batches, each counted once.
    batches_after = _batch_figures(lambda name, labels: metric(text, name, **labels))
    handled_in_batches = batches_after[0] - batches_before[0]
    batches = batches_after[1] - batches_before[1]
    assert handled_in_batches == 3
    assert 1 <= batches <= 3
    assert "cityops_outbox_backlog" in text
    consumer.request_stop()
    await runtime_task
    await producer.nc.close()
    await producer.engine.dispose()
