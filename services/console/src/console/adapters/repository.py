"""The only code that queries the console's tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from console.adapters.tables import (
    DepartmentRow,
    LoginAttemptRow,
    Open311RequestRow,
    SessionRow,
    UserRow,
)
from console.domain.access import Role
from console.domain.accounts import Department, NewUser, User
from console.domain.open311 import Extra, Submission


def _user(row: UserRow) -> User:
    return User(
        user_id=row.user_id,
        role=Role(row.role),
        department_id=row.department_id,
        display_name=row.display_name,
        password_hash=row.password_hash,
        active=row.active,
    )


def _department(row: DepartmentRow) -> Department:
    return Department(row.department_id, row.name_zh, row.name_en, row.district_code)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: str) -> User | None:
        row = await self._session.get(UserRow, user_id)
        return _user(row) if row else None

    def add(self, user: NewUser, password_hash: str, *, created_by: str, at: datetime) -> None:
        self._session.add(
            UserRow(
                user_id=user.user_id,
                role=user.role.value,
                department_id=user.department_id,
                display_name=user.display_name,
                password_hash=password_hash,
                created_at=at,
                created_by=created_by,
            )
        )

    async def update(self, user: NewUser) -> None:
        row = await self._session.get(UserRow, user.user_id)
        if row is not None:
            row.role = user.role.value
            row.department_id = user.department_id
            row.display_name = user.display_name
            self._session.add(row)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        row = await self._session.get(UserRow, user_id)
        if row is not None:
            row.password_hash = password_hash
            self._session.add(row)

    async def set_active(self, user_id: str, active: bool) -> None:
        row = await self._session.get(UserRow, user_id)
        if row is not None:
            row.active = active
            self._session.add(row)

    async def list(self) -> list[User]:
        rows = await self._session.exec(select(UserRow).order_by(col(UserRow.user_id)))
        return [_user(r) for r in rows]


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, department_id: str) -> Department | None:
        row = await self._session.get(DepartmentRow, department_id)
        return _department(row) if row else None

    def add(self, department: Department, *, at: datetime) -> None:
        self._session.add(
            DepartmentRow(
                department_id=department.department_id,
                name_zh=department.name_zh,
                name_en=department.name_en,
                district_code=department.district_code,
                created_at=at,
            )
        )

    async def list(self) -> list[Department]:
        rows = await self._session.exec(
            select(DepartmentRow).order_by(col(DepartmentRow.department_id))
        )
        return [_department(r) for r in rows]


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: SessionRow) -> None:
        self._session.add(row)

    async def get(self, token_hash: str) -> SessionRow | None:
        return await self._session.get(SessionRow, token_hash)

    async def touch(self, token_hash: str, at: datetime) -> None:
        row = await self._session.get(SessionRow, token_hash)
        if row is not None:
            row.last_seen_at = at
            self._session.add(row)

    async def remove(self, token_hash: str) -> None:
        await self._session.exec(delete(SessionRow).where(col(SessionRow.token_hash) == token_hash))  # type: ignore[call-overload]

    async def remove_for_user(self, user_id: str) -> None:
        await self._session.exec(delete(SessionRow).where(col(SessionRow.user_id) == user_id))  # type: ignore[call-overload]

    async def purge(self, idle_before: datetime, created_before: datetime) -> None:
        await self._session.exec(  # type: ignore[call-overload]
            delete(SessionRow).where(
                (col(SessionRow.last_seen_at) < idle_before)
                | (col(SessionRow.created_at) < created_before)
            )
        )


class LoginAttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, user_id: str, client_ip: str, succeeded: bool, at: datetime) -> None:
        self._session.add(
            LoginAttemptRow(
                user_id=user_id, client_ip=client_ip, succeeded=succeeded, attempted_at=at
            )
        )

    async def failures(
        self, *, since: datetime, user_id: str = "", client_ip: str = ""
    ) -> list[datetime]:
        """Failed attempts by this user name (or from this address) since `since`
        and since that key's last success."""
        key = (
            col(LoginAttemptRow.user_id) == user_id
            if user_id
            else col(LoginAttemptRow.client_ip) == client_ip
        )
        last_ok = (
            await self._session.exec(
                select(func.max(LoginAttemptRow.attempted_at)).where(
                    key, col(LoginAttemptRow.succeeded)
                )
            )
        ).one()
        start = since if last_ok is None else max(since, last_ok)
        rows = await self._session.exec(
            select(LoginAttemptRow.attempted_at).where(
                key,
                col(LoginAttemptRow.succeeded).is_(False),
                col(LoginAttemptRow.attempted_at) > start,
            )
        )
        return list(rows)

    async def purge(self, before: datetime) -> None:
        await self._session.exec(  # type: ignore[call-overload]
            delete(LoginAttemptRow).where(col(LoginAttemptRow.attempted_at) < before)
        )


class Open311Repository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, case_id: str, client: str, sub: Submission, at: datetime) -> None:
        if await self._session.get(Open311RequestRow, case_id) is not None:
            return  # a retried request filed the same case: keep the first record
        self._session.add(
            Open311RequestRow(
                service_request_id=case_id,
                client=client,
                service_code=sub.service_code,
                description=sub.description,
                address_string=sub.address_string,
                media_url=sub.media_url,
                contact=json.dumps(dict(sub.contact), ensure_ascii=False),
                requested_at=at,
            )
        )

    async def get_many(self, case_ids: Sequence[str]) -> dict[str, Extra]:
        if not case_ids:
            return {}
        rows = await self._session.exec(
            select(Open311RequestRow).where(col(Open311RequestRow.service_request_id).in_(case_ids))
        )
        return {
            r.service_request_id: Extra(r.description, r.address_string, r.media_url) for r in rows
        }
