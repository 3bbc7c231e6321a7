"""Webhook signing (checked by an independent verifier), backoff, delivery
bookkeeping and the webhooks file."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workorders.adapters.webhook_config import WebhookConfigError, load_webhooks
from workorders.domain.notifications import (
    AttemptResult,
    Delivery,
    DeliveryStatus,
    NotificationKind,
    RetryPolicy,
    body,
    sign,
)

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECRET = "s3cret-s3cret-s3cret"
POLICY = RetryPolicy(base=timedelta(seconds=5), cap=timedelta(seconds=60), max_attempts=4)


def receiver_verifies(header: str, secret: str, raw: bytes, now: int, tolerance: int = 300) -> bool:
    """What a department's receiver does, written from the documented scheme
    only: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    stamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return abs(now - stamp) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    raw = body(
        delivery_id="WH-1",
        kind=NotificationKind.ORDER_CREATED,
        occurred_at=NOW,
        data={"order": {"order_id": "WO-1", "title": "井盖缺失"}},
    )
    stamp = 1_740_816_000
    header = sign(SECRET, stamp, raw)
    assert header.startswith(f"t={stamp},v1=")
    assert receiver_verifies(header, SECRET, raw, stamp + 10)
    assert not receiver_verifies(header, SECRET, raw.replace(b"WO-1", b"WO-2"), stamp)
    assert not receiver_verifies(header, "another-secret-value", raw, stamp)
    assert not receiver_verifies(header, SECRET, raw, stamp + 301)  # a replay, too late
    document = json.loads(raw)
    assert document["type"] == "workorder.created" and document["id"] == "WH-1"
    assert document["data"]["order"]["title"] == "井盖缺失"


def test_backoff_doubles_up_to_the_cap_then_gives_up() -> None:
    delays = [POLICY.next_attempt(n, NOW) for n in range(1, 5)]
    assert [d - NOW if d else None for d in delays] == [
        timedelta(seconds=5),
        timedelta(seconds=10),
        timedelta(seconds=20),
        None,
    ]
    capped = RetryPolicy(base=timedelta(seconds=5), cap=timedelta(seconds=12), max_attempts=9)
    assert capped.next_attempt(5, NOW) == NOW + timedelta(seconds=12)


def delivery() -> Delivery:
    return Delivery(
        "WH-1",
        "water",
        NotificationKind.ORDER_CREATED,
        "WO-1",
        "C-1",
        "http://127.0.0.1:1/hook",
        b"{}",
        NOW,
        NOW,
    )


def test_a_delivery_counts_attempts_until_delivered() -> None:
    d = delivery()
    d.record(AttemptResult(500, "boom"), NOW, POLICY)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == (
        DeliveryStatus.PENDING,
        1,
        500,
        "boom",
    )
    assert d.next_attempt_at == NOW + timedelta(seconds=5)
    later = NOW + timedelta(seconds=6)
    d.record(AttemptResult(204), later, POLICY)
    assert (d.status, d.attempts, d.delivered_at) == (DeliveryStatus.DELIVERED, 2, later)


def test_a_delivery_that_never_succeeds_is_marked_failed() -> None:
    d = delivery()
    for _ in range(POLICY.max_attempts):
        d.record(AttemptResult(None, "connection refused"), NOW, POLICY)
    assert (d.status, d.attempts, d.delivered_at) == (DeliveryStatus.FAILED, 4, None)


def test_the_webhooks_file_reads_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "version: 1\n"
        "departments:\n"
        "  D01-water: {url: 'https://water.example/hook', secret_env: WATER_SECRET}\n"
        f"  D01-gas: {{url: 'http://127.0.0.1:9/hook', secret: '{SECRET}'}}\n"
        f"  D01-transport: {{url: 'http://127.0.0.1:9/x', secret: '{SECRET}', enabled: false}}\n",
        encoding="utf-8",
    )
    found = load_webhooks(path, {"WATER_SECRET": "w" * 20})
    assert sorted(found.endpoints) == ["D01-gas", "D01-water"]
    water = found.endpoint_for("D01-water")
    assert water is not None and water.secret == "w" * 20
    assert found.endpoint_for("D02-water") is None
    with pytest.raises(WebhookConfigError, match="WATER_SECRET"):
        load_webhooks(path, {})
    assert load_webhooks(tmp_path / "absent.yaml").endpoints == {}


@pytest.mark.parametrize(
    "entry",
    [
        "{url: 'ftp://x/hook', secret: 'sixteen-chars-ok!'}",
        "{url: 'https://x/hook'}",
        "{url: 'https://x/hook', secret: 'short'}",
        "{url: 'https://x/hook', secret: 'sixteen-chars-ok!', secret_env: X}",
        "{url: 'https://x/hook', secret: 'sixteen-chars-ok!', colour: red}",
    ],
)
def test_a_bad_webhooks_file_stops_the_service(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text(f"version: 1\ndepartments:\n  D01-water: {entry}\n", encoding="utf-8")
    with pytest.raises(WebhookConfigError):
        load_webhooks(path, {})
