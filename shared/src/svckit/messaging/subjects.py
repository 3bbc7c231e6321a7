"""Subjects and streams: `cityops.<producer>.<aggregate>.<past_tense>`, one
stream per producer. One table here so producers and consumers can never
declare the same stream two ways."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCERS = ("detection", "intake", "dispatch", "workorders", "audit", "console")


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    # JetStream de-duplicates Nats-Msg-Id within this window; the inbox covers beyond it.
    duplicate_window_seconds: float = 600.0
    max_age_days: float = 30.0


def stream_for(producer: str) -> StreamSpec:
    if producer not in PRODUCERS:
        raise ValueError(f"unknown producer {producer!r}")
    return StreamSpec(name=producer.upper(), subjects=(f"cityops.{producer}.>",))


def durable_name(consumer: str, producer: str) -> str:
    """One durable pull consumer per (consumer service, stream)."""
    return f"{consumer}-{producer}"


def subject(producer: str, aggregate: str, past_tense: str) -> str:
    return f"cityops.{producer}.{aggregate}.{past_tense}"


def producer_of(subject_name: str) -> str:
    return subject_name.split(".")[1]


DETECTION_REPORTED = subject("detection", "detection", "reported")
CASE_FILED = subject("intake", "case", "filed")
CASE_DISPATCHED = subject("dispatch", "case", "dispatched")
CASE_UNROUTABLE = subject("dispatch", "case", "unroutable")
CASE_REDISPATCHED = subject("dispatch", "case", "redispatched")
CASE_ESCALATED = subject("dispatch", "case", "escalated")
CASE_ARBITRATION_REQUESTED = subject("dispatch", "case", "arbitration_requested")
CASE_BACKLOGGED = subject("dispatch", "case", "backlogged")
CASE_RESUMED = subject("dispatch", "case", "resumed")
EXTENSION_DECIDED = subject("dispatch", "extension", "decided")
WORKORDER_CREATED = subject("workorders", "workorder", "created")
WORKORDER_ACCEPTED = subject("workorders", "workorder", "accepted")
WORKORDER_COMPLETED = subject("workorders", "workorder", "completed")
WORKORDER_RETURNED = subject("workorders", "workorder", "returned")
WORKORDER_PROGRESSED = subject("workorders", "workorder", "progressed")
WORKORDER_EXTENSION_REQUESTED = subject("workorders", "workorder", "extension_requested")
WORKORDER_REOPENED = subject("workorders", "workorder", "reopened")
WORKORDER_CANCELLED = subject("workorders", "workorder", "cancelled")
CASE_VERIFIED = subject("audit", "case", "verified")
CASE_REWORK = subject("audit", "case", "rework")
CASE_CLOSED = subject("audit", "case", "closed")
ACCOUNT_CHANGED = subject("console", "account", "changed")
DEPARTMENT_CREATED = subject("console", "department", "created")
