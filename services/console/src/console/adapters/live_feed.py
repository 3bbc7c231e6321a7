"""The console's ear on NATS: a core subscription to every `cityops.>` subject
(no durable consumer: a live view needs no replay), decoded and summarised
into LiveEvents for the hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from nats.aio.client import Client
from nats.aio.msg import Msg

from console.domain.live import QUIET_SUBJECTS, LiveEvent, summarise
from svckit.logging import get_logger
from svckit.messaging import envelope

log = get_logger(__name__)
SUBJECT = "cityops.>"


class NatsLiveFeed:
    def __init__(
        self, nc: Client, publish: Callable[[LiveEvent], None], subject: str = SUBJECT
    ) -> None:
        self._nc = nc
        self._publish = publish
        self._subject = subject
        self._sub: Any = None
        self.undecodable = 0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._subject, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    async def _on_message(self, msg: Msg) -> None:
        if msg.subject in QUIET_SUBJECTS:
            return  # thousands a second; never decoded here
        try:
            event = envelope.unwrap(msg.subject, msg.headers, msg.data)
            fields = MessageToDict(event.message, preserving_proto_field_name=True)
            live = summarise(
                event.subject, event.type, event.case_id, event.time.isoformat(), fields
            )
        except Exception as exc:  # a live view skips what it cannot read
            self.undecodable += 1
            log.debug("live event skipped", subject=msg.subject, error=str(exc))
            return
        if live is not None:
            self._publish(live)
