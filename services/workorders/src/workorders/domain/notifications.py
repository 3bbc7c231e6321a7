"""Department notifications: which orders a department hears about by webhook,
what the message says, how it is signed and how failed deliveries are retried.

Signature (Stripe-style, so receivers can use well-known code):
``X-CityOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
The timestamp is signed with the body, so a receiver rejecting old timestamps
also rejects replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from workorders.domain.model import WorkOrder

SIGNATURE_HEADER = "X-CityOps-Signature"
DELIVERY_HEADER = "X-CityOps-Delivery"
EVENT_HEADER = "X-CityOps-Event"


class NotificationKind(StrEnum):
    """What a department is told about its orders."""

    ORDER_CREATED = "workorder.created"
    ORDER_ESCALATED = "workorder.escalated"
    ORDER_REOPENED = "workorder.reopened"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Every attempt allowed failed; kept with its attempts for the operators.
    FAILED = "failed"


@dataclass(frozen=True)
class WebhookEndpoint:
    department_id: str
    url: str
    secret: str


@dataclass(frozen=True)
class WebhookDirectory:
    """The departments that receive webhooks, by department id."""

    endpoints: Mapping[str, WebhookEndpoint]

    def endpoint_for(self, department_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get(department_id)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base, 2×base, 4×base … capped; then give up."""

    base: timedelta
    cap: timedelta
    max_attempts: int

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failures, or None to give up."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        return now + delay


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def body(
    *, delivery_id: str, kind: NotificationKind, occurred_at: datetime, data: Mapping[str, Any]
) -> bytes:
    """The JSON a receiver gets: stable keys, UTF-8 (names are Chinese), sorted
    so the signed bytes are reproducible."""
    document = {
        "id": delivery_id,
        "type": kind.value,
        "occurred_at": occurred_at.isoformat(),
        "data": dict(data),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


@dataclass(frozen=True)
class AttemptResult:
    """What one POST got: a status code, or an error before any response."""

    status_code: int | None
    error: str = ""
    duration_ms: int = 0


@dataclass
class Delivery:
    """A notification owed to a department and how its delivery has gone."""

    delivery_id: str
    department_id: str
    kind: NotificationKind
    order_id: str
    case_id: str
    url: str
    body: bytes
    created_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""

    def record(self, result: AttemptResult, now: datetime, policy: RetryPolicy) -> None:
        """Count the attempt: delivered on a 2xx, else retried later or given up."""
        self.attempts += 1
        self.last_status_code, self.last_error = result.status_code, result.error
        if is_success(result.status_code):
            self.status, self.delivered_at = DeliveryStatus.DELIVERED, now
            return
        retry_at = policy.next_attempt(self.attempts, now)
        if retry_at is None:
            self.status = DeliveryStatus.FAILED
        else:
            self.next_attempt_at = retry_at


@dataclass(frozen=True)
class AttemptRecord:
    """One recorded attempt of a delivery (numbered from 1)."""

    attempt: int
    attempted_at: datetime
    result: AttemptResult


def order_summary(order: WorkOrder) -> dict[str, Any]:
    """What a department's system needs to show the order without calling back."""
    place = order.place
    return {
        "order_id": order.order_id,
        "case_id": order.case_id,
        "dispatch_id": order.dispatch_id,
        "department_id": order.department_id,
        "role": order.role.value,
        "attempt": order.attempt,
        "state": order.state.value,
        "category_code": order.category_code,
        "title": order.title,
        "deadline": order.deadline.isoformat() if order.deadline else None,
        "escalation_level": order.escalation_level,
        "rework_count": order.rework_count,
        "place": None
        if place is None
        else {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "district_code": place.district_code,
            "street_code": place.street_code,
            "grid_code": place.grid_code,
        },
    }
