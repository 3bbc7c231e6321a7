"""Protobuf bodies named by their full type name (the CloudEvents `type`)."""

from __future__ import annotations

import importlib

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from svckit.errors import PermanentError

_EVENT_MODULES = (
    "cityops.detection.v1.events_pb2",
    "cityops.intake.v1.events_pb2",
    "cityops.dispatch.v1.events_pb2",
    "cityops.workorders.v1.events_pb2",
    "cityops.audit.v1.events_pb2",
    "cityops.console.v1.events_pb2",
)


def _load_event_modules() -> None:
    for name in _EVENT_MODULES:
        importlib.import_module(name)


_load_event_modules()


def type_name(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def decode(event_type: str, body: bytes) -> Message:
    """Parse a body by its type name; an unknown type or bad bytes is permanent."""
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName(event_type)
    except KeyError as exc:
        raise PermanentError(f"unknown event type {event_type!r}") from exc
    message = message_factory.GetMessageClass(descriptor)()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise PermanentError(f"undecodable {event_type}: {exc}") from exc
    return message
