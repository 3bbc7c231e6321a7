"""Factories shared by audit's tests (fixtures, since test folders are not packages)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.adapters.integration_events import EventTranslator
from audit.adapters.policy_files import (
    EVALUATION_FILE,
    VERIFICATION_FILE,
    load_formula,
    load_verification_policy,
)
from audit.adapters.signing import Ed25519Signer, TrustedKeys
from audit.domain.ledger import chain_entry
from audit.domain.model import EventFacts, LedgerCheck, LedgerEntry
from audit.domain.tree_head import TreeHeadPolicy
from audit.service_layer import handlers, ledger
from audit.service_layer.context import AuditContext
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.messaging import subjects
from svckit.messaging.envelope import IncomingEvent
from svckit.reference import default_config_dir

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

FactsFactory = Callable[..., EventFacts]
ChainFactory = Callable[[int], list[LedgerEntry]]


@pytest.fixture
def make_facts() -> FactsFactory:
    """EventFacts with sensible defaults; override any field by keyword."""
    counter = iter(range(1, 10_000))

    def build(**overrides: Any) -> EventFacts:
        n = next(counter)
        payload = f"payload-{n}".encode()
        values: dict[str, Any] = {
            "event_id": f"evt-{n}",
            "event_type": "cityops.dispatch.v1.CaseDispatched",
            "subject": "cityops.dispatch.case.dispatched",
            "producer": "dispatch",
            "case_id": "C-1",
            "occurred_at": T0 + timedelta(minutes=n),
            "summary": "派遣至 D01-transport",
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload": payload,
            "department_id": "D01-transport",
        }
        values.update(overrides)
        return EventFacts(**values)

    return build


@pytest.fixture
def make_chain(make_facts: FactsFactory) -> ChainFactory:
    """A valid chain of n entries, as `record_event` would build it."""

    def build(n: int) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        previous = "0" * 64
        for sequence in range(1, n + 1):
            entry = chain_entry(
                make_facts(summary=f"第{sequence}步"),
                sequence=sequence,
                previous_hash=previous,
                recorded_at=T0 + timedelta(hours=sequence),
                trace_id=f"{sequence:032x}",
                span_id=f"{sequence:016x}",
            )
            entries.append(entry)
            previous = entry.entry_hash
        return entries

    return build


SEED = bytes(range(32))


@pytest.fixture
def signer() -> Ed25519Signer:
    """A fixed Ed25519 key, so signatures in failures are reproducible."""
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(SEED))


@pytest.fixture
def audit_ctx(signer: Ed25519Signer) -> AuditContext:
    """The published policies of the repository; a tree head every 4 entries."""
    config = default_config_dir()
    return AuditContext(
        signer=signer,
        trusted=TrustedKeys([signer.public_key]),
        formula=load_formula(config / EVALUATION_FILE),
        translator=EventTranslator(
            lambda code: {"E0105": "道路破损", "E0101": "暴露垃圾"}.get(code, "")
        ),
        tree_heads=TreeHeadPolicy(every_entries=4, every_seconds=3600),
        verification_policy=load_verification_policy(config / VERIFICATION_FILE),
    )


SUBJECT_OF = {
    "cityops.detection.v1.DetectionReported": subjects.DETECTION_REPORTED,
    "cityops.detection.v1.DetectionWithdrawn": "cityops.detection.detection.withdrawn",
    "cityops.intake.v1.CaseFiled": subjects.CASE_FILED,
    "cityops.intake.v1.CaseRejected": "cityops.intake.case.rejected",
    "cityops.intake.v1.CaseMerged": "cityops.intake.case.merged",
    "cityops.intake.v1.CaseCorroborated": "cityops.intake.case.corroborated",
    "cityops.dispatch.v1.CaseDispatched": subjects.CASE_DISPATCHED,
    "cityops.dispatch.v1.CaseRedispatched": subjects.CASE_REDISPATCHED,
    "cityops.dispatch.v1.ExtensionDecided": subjects.EXTENSION_DECIDED,
    "cityops.dispatch.v1.CaseBacklogged": subjects.CASE_BACKLOGGED,
    "cityops.workorders.v1.WorkOrderCompleted": subjects.WORKORDER_COMPLETED,
    "cityops.workorders.v1.WorkOrderProgressed": subjects.WORKORDER_PROGRESSED,
    "cityops.audit.v1.CaseVerified": subjects.CASE_VERIFIED,
    "cityops.audit.v1.CaseRework": subjects.CASE_REWORK,
    "cityops.audit.v1.CaseClosed": subjects.CASE_CLOSED,
}


class Recorder:
    """A real ledger (SQLite or PostgreSQL) fed through `handlers.record_event`, as the pull
    worker feeds it (one transaction per `record` call)."""

    def __init__(self, engine: AsyncEngine, ctx: AuditContext, url: str) -> None:
        self.engine, self.ctx, self.url = engine, ctx, url
        self._n = 0

    def uow(self) -> AuditUnitOfWork:
        return AuditUnitOfWork(self.engine, "audit")

    def event(
        self,
        message: Message,
        *,
        case_id: str | None = None,
        at: datetime | None = None,
        subject: str = "",
    ) -> IncomingEvent:
        self._n += 1
        found = (
            getattr(message, "case_id", "")
            if "case_id" in message.DESCRIPTOR.fields_by_name
            else ""
        )
        return IncomingEvent(
            id=f"evt-{self._n}",
            type=message.DESCRIPTOR.full_name,
            source="/cityops/test",
            subject=subject or SUBJECT_OF.get(message.DESCRIPTOR.full_name, "cityops.test.x.y"),
            case_id=found if case_id is None else case_id,
            time=at or T0 + timedelta(minutes=self._n),
            message=message,
            headers={},
        )

    async def record(self, *items: IncomingEvent | Message, prepare: bool = True) -> None:
        """`prepare=False`: as the worker records a message on its own (no preload)."""
        events = [item if isinstance(item, IncomingEvent) else self.event(item) for item in items]
        async with self.uow() as uow:
            if prepare:
                await handlers.prepare_batch(events, uow)
            for e in events:
                await handlers.record_event(e, uow, self.ctx)
            await uow.commit()

    async def check(self) -> LedgerCheck:
        return await ledger.verify_ledger(self.uow(), self.ctx.trusted)

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(statement), params)

    async def entries(self) -> list[LedgerEntry]:
        async with self.uow().snapshot() as view:
            return await view.ledger.page(None, 10_000)


@pytest.fixture
def recorder(db_engine: AsyncEngine, audit_ctx: AuditContext, database_url: str) -> Recorder:
    """A ledger on SQLite and on PostgreSQL (each test using it runs twice)."""
    return Recorder(db_engine, audit_ctx, database_url)


@pytest.fixture
def sqlite_recorder(
    sqlite_engine: AsyncEngine, audit_ctx: AuditContext, sqlite_url: str
) -> Recorder:
    """A ledger on SQLite only, for edits only SQLite's loose column types let in."""
    return Recorder(sqlite_engine, audit_ctx, sqlite_url)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`python -m audit` commands configure logging process-wide; put it back."""
    config = structlog.get_config()
    bound = structlog.contextvars.get_contextvars()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**bound)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
