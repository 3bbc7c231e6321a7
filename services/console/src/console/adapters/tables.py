"""The console's own store: people, their departments and sessions, login
attempts, and what Open311 clients sent beyond what a case holds. Tables carry
the `console_` prefix so they never collide with another service's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from svckit.db import UtcDateTime


class UserRow(SQLModel, table=True):
    __tablename__ = "console_user"

    user_id: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=32)
    department_id: str = Field(default="", max_length=64, index=True)
    display_name: str = Field(default="", max_length=100)
    # argon2id PHC string; empty for accounts an external identity provider owns.
    password_hash: str = Field(default="", max_length=256)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(default="", max_length=64)


class DepartmentRow(SQLModel, table=True):
    __tablename__ = "console_department"

    department_id: str = Field(primary_key=True, max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    district_code: str = Field(default="", max_length=16)
    created_at: datetime = Field(sa_type=UtcDateTime)


class SessionRow(SQLModel, table=True):
    """A logged-in browser. Only the SHA-256 of the cookie's token is stored,
    so the table alone cannot be used to take over a session."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=64)
    # The principal as established at login (by any identity provider).
    role: str = Field(max_length=32)
    department_id: str = Field(default="", max_length=64)
    display_name: str = Field(default="", max_length=100)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)
    client_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class LoginAttemptRow(SQLModel, table=True):
    __tablename__ = "console_login_attempt"
    __table_args__ = (
        Index("ix_console_login_attempt_user", "user_id", "attempted_at"),
        Index("ix_console_login_attempt_ip", "client_ip", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=64)
    client_ip: str = Field(max_length=64)
    succeeded: bool
    attempted_at: datetime = Field(sa_type=UtcDateTime)


class Open311RequestRow(SQLModel, table=True):
    """What a citizen sent that the case itself has no field for (the whole
    description, address, photo link, contact), keyed by the case it filed."""

    __tablename__ = "console_open311_request"

    service_request_id: str = Field(primary_key=True, max_length=64)
    client: str = Field(max_length=64)
    service_code: str = Field(max_length=16)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    address_string: str = Field(default="", max_length=200)
    media_url: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # JSON of the contact fields (email, names, phone, device/account ids); never served.
    contact: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    requested_at: datetime = Field(sa_type=UtcDateTime, index=True)
