"""Keyset paging of order listings.

A token names the last order of the page it ended (its created_at and id)
and the filters it was issued for. The next page starts strictly after that
position in the (created_at, order_id) order, so orders created between two
calls never shift a page, skip an order or show one twice. The token is
opaque to callers but not secret: it only says where to resume, and every
page is filtered by the caller's own scope again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from svckit.errors import InvalidArgumentError
from workorders.domain.states import OrderState

_VERSION = 1


@dataclass(frozen=True)
class Position:
    """Where a page ended: the next page starts after this order."""

    created_at: datetime
    order_id: str


def filters_key(states: Sequence[OrderState], case_id: str) -> str:
    """A short fingerprint of the filters; a token is valid only with the same ones."""
    text = "|".join(sorted(s.value for s in states)) + "\x00" + case_id
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(position: Position, filters: str) -> str:
    document = {
        "v": _VERSION,
        "c": position.created_at.isoformat(),
        "o": position.order_id,
        "f": filters,
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, filters: str) -> Position | None:
    """The position a token resumes after; None for no token (the first page)."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
        position = Position(datetime.fromisoformat(document["c"]), str(document["o"]))
        version, issued_for = document["v"], document["f"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgumentError("page_token is not one this service issued") from None
    if version != _VERSION or position.created_at.tzinfo is None:
        raise InvalidArgumentError("page_token is not one this service issued")
    if issued_for != filters:
        raise InvalidArgumentError("page_token was issued for other states or case_id")
    return position
