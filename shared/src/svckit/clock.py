"""Time in one place so tests can pin it."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str = "") -> str:
    """A time-ordered unique id (UUIDv7), optionally prefixed for readability."""
    return f"{prefix}{_uuid7()}"


def _uuid7() -> str:
    """RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits.

    Formatted straight from the integer: every event, row and id a service
    makes goes through here, and building a `uuid.UUID` to print it cost
    several times the rest (Python 3.14's `uuid.uuid7` does the same work)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
