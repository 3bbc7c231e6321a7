"""Login rate limiting: how many failed logins a user name or an address may
make before it has to wait. Stored attempts come in; a decision comes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginLimits:
    # Failures per user name: guessing one account's password.
    per_user: int = 5
    # Failures per client address: spraying many accounts from one place.
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


def wait_needed(
    failures: Sequence[datetime], limit: int, window: timedelta, now: datetime
) -> float:
    """Seconds until one more attempt is allowed, 0 when it is allowed now.

    `failures` are the failed attempts (any order); once `limit` of them fall
    inside the window, the next is allowed when the oldest of the latest
    `limit` leaves it.
    """
    recent = sorted(t for t in failures if now - t < window)
    if len(recent) < limit:
        return 0.0
    oldest_counted = recent[-limit]
    return max(0.0, (oldest_counted + window - now).total_seconds())


def retry_after(
    user_failures: Sequence[datetime],
    ip_failures: Sequence[datetime],
    limits: LoginLimits,
    now: datetime,
) -> float:
    """Seconds to wait (0: try now) given the failures since the last success."""
    return max(
        wait_needed(user_failures, limits.per_user, limits.window, now),
        wait_needed(ip_failures, limits.per_ip, limits.window, now),
    )
