"""The tables svckit adds to every service's own database: outbox, inbox,
dead letters. Each service's store holds its own copies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, String
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class OutboxMessage(SQLModel, table=True):
    """An event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    position: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    subject: str
    event_type: str
    case_id: str = ""
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # JSON of the CloudEvents and trace headers captured at write time.
    headers: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)
    attempts: int = 0
    last_error: str = ""


class InboxMessage(SQLModel, table=True):
    """A message or request already handled; its presence makes a retry a no-op."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=128)
    message_id: str = Field(primary_key=True, max_length=128)
    received_at: datetime = Field(sa_type=UtcDateTime)
    # A gRPC response to replay for a retried request_id.
    result: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class DeadLetter(SQLModel, table=True):
    """A message no retry can help, kept with the reason for an operator."""

    __tablename__ = "dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    consumer: str
    stream: str
    subject: str
    message_id: str
    stream_sequence: int
    deliveries: int
    headers: str
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str
    failed_at: datetime = Field(sa_type=UtcDateTime)
