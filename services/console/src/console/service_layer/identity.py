"""Who is logging in. Local accounts (argon2 hashes in the console's store) are
the default `IdentityProvider`; an OIDC provider can replace them.

How an OIDC provider fits: the login page redirects to the issuer's
authorization endpoint; the callback hands an `AuthorizationCode` to the
provider, which exchanges it, validates the ID token and maps its claims
(`sub` → user_id, a role claim, a department claim) onto a `Principal`.
Everything after that (sessions, CSRF, authorization, the identity the
console forwards to services) is the same whichever provider ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from console.adapters.passwords import Passwords
from console.domain.access import Principal
from console.domain.ratelimit import LoginLimits, retry_after
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from svckit.clock import utcnow
from svckit.errors import DomainError, InvalidArgumentError, UnauthenticatedError
from svckit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class PasswordCredentials:
    user_id: str
    password: str
    client_ip: str


@dataclass(frozen=True)
class AuthorizationCode:
    """What an OIDC callback brings back (for an OIDC provider)."""

    code: str
    redirect_uri: str
    client_ip: str


Credentials = PasswordCredentials | AuthorizationCode


class LoginFailedError(UnauthenticatedError):
    """Wrong user name or password; deliberately says no more than that."""


class LoginThrottledError(DomainError):
    """Too many failed logins for this user name or from this address."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many failed logins; try again in {int(seconds) + 1} s")
        self.retry_after = int(seconds) + 1


class IdentityProvider(Protocol):
    """Establishes who a person is; raises LoginFailedError / LoginThrottledError."""

    name: str

    async def authenticate(self, credentials: Credentials) -> Principal: ...


class LocalIdentityProvider:
    """Accounts in the console's own store, rate limited per user name and per address."""

    name = "local"

    def __init__(
        self,
        uow: Callable[[], ConsoleUnitOfWork],
        passwords: Passwords,
        limits: LoginLimits | None = None,
    ) -> None:
        self._uow = uow
        self._passwords = passwords
        self._limits = limits or LoginLimits()

    async def authenticate(self, credentials: Credentials) -> Principal:
        if not isinstance(credentials, PasswordCredentials):
            raise InvalidArgumentError("local accounts log in with a user name and password")
        now = utcnow()
        since = now - self._limits.window
        async with self._uow() as uow:
            wait = retry_after(
                await uow.attempts.failures(since=since, user_id=credentials.user_id),
                await uow.attempts.failures(since=since, client_ip=credentials.client_ip),
                self._limits,
                now,
            )
            user = await uow.users.get(credentials.user_id)
        if wait > 0:
            log.warning("login throttled", user=credentials.user_id, ip=credentials.client_ip)
            raise LoginThrottledError(wait)
        # argon2 takes tens of milliseconds of CPU: off the event loop, outside the write lock.
        if user is None or not user.password_hash:
            await asyncio.to_thread(self._passwords.verify_dummy, credentials.password)
            ok = False
        else:
            ok = await asyncio.to_thread(
                self._passwords.verify, user.password_hash, credentials.password
            )
        ok = ok and user is not None and user.active
        rehash = ""
        if ok and user is not None and self._passwords.needs_rehash(user.password_hash):
            rehash = await asyncio.to_thread(self._passwords.hash, credentials.password)
        async with self._uow() as uow:
            uow.attempts.add(credentials.user_id[:64], credentials.client_ip[:64], ok, utcnow())
            if rehash:
                await uow.users.set_password_hash(credentials.user_id, rehash)
            await uow.attempts.purge(now - 4 * max(self._limits.window, timedelta(minutes=15)))
            await uow.commit()
        if not ok or user is None:
            log.info("login failed", user=credentials.user_id, ip=credentials.client_ip)
            raise LoginFailedError("wrong user name or password")
        log.info("login", user=user.user_id, role=user.role.value, ip=credentials.client_ip)
        return Principal(user.user_id, user.role, user.department_id, user.display_name)
