"""Time in one place so tests can pin it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str = "") -> str:
    """A time-ordered unique id (UUIDv7), optionally prefixed for readability."""
    value = str(uuid.uuid7()) if hasattr(uuid, "uuid7") else _uuid7()
    return f"{prefix}{value}"


def _uuid7() -> str:
    import os
    import time

    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
