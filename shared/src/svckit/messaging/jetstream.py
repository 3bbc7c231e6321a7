"""Connecting to NATS and declaring streams and durable pull consumers."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from svckit.logging import get_logger
from svckit.messaging.auth import NatsAuth, resolve
from svckit.messaging.subjects import StreamSpec
from svckit.settings import FROM_ENVIRONMENT, FromEnvironment

log = get_logger(__name__)


async def connect(
    url: str, name: str, *, auth: NatsAuth | FromEnvironment | None = FROM_ENVIRONMENT
) -> Client:
    """Connect and keep reconnecting for ever: a service outlives NATS restarts.

    `auth` defaults to the process's `CITYOPS_NATS_NKEY_SEED_FILE` /
    `CITYOPS_NATS_CREDS_FILE` (none set: anonymous); None forces anonymous.
    """
    options = credentials.connect_options(name) if (credentials := resolve(auth)) else {}

    async def _disconnected() -> None:
        log.warning("nats disconnected")

    async def _reconnected() -> None:
        log.info("nats reconnected")

    async def _error(exc: Exception) -> None:
        log.warning("nats error", error=str(exc))

    delay = 0.2
    while True:
        try:
            return await _connect(url, name, options, _disconnected, _reconnected, _error)
        except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
            log.warning("nats not reachable yet; retrying", url=url, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _connect(url: str, name: str, options: dict[str, Any], *callbacks: Any) -> Client:
    disconnected, reconnected, error = callbacks
    return await nats.connect(
        [server.strip() for server in url.split(",") if server.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        **options,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    """Create the stream or bring its config to the spec; safe to call from every service."""
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        duplicate_window=spec.duplicate_window_seconds,
        max_age=spec.max_age_days * 86400,
        num_replicas=replicas,
    )
    for attempt in range(20):
        try:
            try:
                await js.stream_info(spec.name)
            except NotFoundError:
                await js.add_stream(config)
            else:
                await js.update_stream(config)
            return
        except BadRequestError:
            # Two services declaring at once: the loser re-reads and updates.
            await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"could not declare stream {spec.name}")


async def ensure_pull_consumer(
    js: JetStreamContext,
    stream: str,
    durable: str,
    filter_subjects: list[str] | None = None,
    *,
    ack_wait_seconds: float = 30.0,
    max_ack_pending: int = 2000,
) -> JetStreamContext.PullSubscription:
    """Bind to (creating if needed) a durable pull consumer with explicit acks."""
    config = ConsumerConfig(
        durable_name=durable,
        name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_seconds,
        max_ack_pending=max_ack_pending,
        max_deliver=-1,
    )
    if filter_subjects and len(filter_subjects) > 1:
        config.filter_subjects = filter_subjects
    elif filter_subjects:
        config.filter_subject = filter_subjects[0]
    # Create, or update an existing durable to this config (a service that now
    # consumes more subjects must see them without deleting its consumer).
    await js.add_consumer(stream, config=config)
    return await js.pull_subscribe_bind(durable=durable, stream=stream)
