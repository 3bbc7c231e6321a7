"""Browser sessions: opened after an identity provider vouched for someone,
resolved on every request, each with its own CSRF token.

The cookie holds a random token; the store holds only its SHA-256. A session
ends on logout, after the idle or absolute timeout, or when the local account
behind it is disabled or changes role or department.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from console.adapters.tables import SessionRow
from console.domain.access import Principal, Role
from console.domain.sessions import SessionPolicy
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from svckit.clock import utcnow


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; an absent token never matches."""
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


class SessionManager:
    def __init__(self, uow: Callable[[], ConsoleUnitOfWork], policy: SessionPolicy) -> None:
        self._uow = uow
        self.policy = policy

    async def open(
        self, principal: Principal, client_ip: str, user_agent: str
    ) -> tuple[str, SessionInfo]:
        """A new session (the cookie's token and its info). A fresh token at every
        login: a token planted before login is never promoted (session fixation)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        async with self._uow() as uow:
            uow.sessions.add(
                SessionRow(
                    token_hash=_digest(token),
                    user_id=principal.user_id,
                    role=principal.role.value,
                    department_id=principal.department_id,
                    display_name=principal.display_name,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    client_ip=client_ip[:64],
                    user_agent=user_agent[:300],
                )
            )
            await uow.sessions.purge(now - self.policy.idle, now - self.policy.absolute)
            await uow.commit()
        return token, SessionInfo(principal, csrf)

    async def resolve(self, token: str | None) -> SessionInfo | None:
        if not token or len(token) > 128:
            return None
        key = _digest(token)
        now = utcnow()
        async with self._uow() as uow:
            row = await uow.sessions.get(key)
            if row is None:
                return None
            principal = Principal(row.user_id, Role(row.role), row.department_id, row.display_name)
            user = await uow.users.get(row.user_id)
            stale = user is not None and (
                not user.active
                or user.role is not principal.role
                or user.department_id != principal.department_id
            )
            if stale or self.policy.expired(row.created_at, row.last_seen_at, now):
                await uow.sessions.remove(key)
                await uow.commit()
                return None
            if self.policy.needs_touch(row.last_seen_at, now):
                await uow.sessions.touch(key, now)
                await uow.commit()
            return SessionInfo(principal, row.csrf_token)

    async def close(self, token: str | None) -> None:
        if not token:
            return
        async with self._uow() as uow:
            await uow.sessions.remove(_digest(token))
            await uow.commit()
