"""Reading protobuf fields by name, tolerating types that lack them.

Audit records every producer's events, including versions newer or older
than its own generated code; reading by name (never by attribute on a known
class) means a missing field reads as empty instead of failing the append.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def field(message: Message | None, name: str) -> Any:
    """The field's value, or "" when the message (or its type) has no such field."""
    if message is None or name not in message.DESCRIPTOR.fields_by_name:
        return ""
    return getattr(message, name)


def text(message: Message | None, name: str) -> str:
    value = field(message, name)
    return value if isinstance(value, str) else ""


def number(message: Message | None, name: str) -> float:
    value = field(message, name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def message_field(message: Message | None, name: str) -> Message | None:
    """A set sub-message, or None."""
    if message is None or name not in message.DESCRIPTOR.fields_by_name:
        return None
    descriptor = message.DESCRIPTOR.fields_by_name[name]
    if descriptor.message_type is None or not message.HasField(name):
        return None
    value = getattr(message, name)
    return value if isinstance(value, Message) else None


def enum_suffix(message: Message | None, name: str) -> str:
    """An enum field's value name without its type prefix ("OUTSIDE_JURISDICTION"
    for RETURN_REASON_OUTSIDE_JURISDICTION); "" when unset or absent."""
    if message is None or name not in message.DESCRIPTOR.fields_by_name:
        return ""
    enum_type = message.DESCRIPTOR.fields_by_name[name].enum_type
    if enum_type is None:
        return ""
    value = enum_type.values_by_number.get(getattr(message, name))
    zero = enum_type.values_by_number.get(0)
    if value is None or value.number == 0:
        return ""
    prefix = zero.name.removesuffix("UNSPECIFIED") if zero is not None else ""
    return value.name.removeprefix(prefix)


def timestamp(message: Message | None, name: str) -> datetime | None:
    """A set Timestamp field as an aware UTC datetime, or None."""
    value = message_field(message, name)
    if not isinstance(value, Timestamp):
        return None
    return value.ToDatetime(tzinfo=UTC)
