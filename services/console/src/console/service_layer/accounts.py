"""Creating departments and users (CLI and admin screens), and the demo users
`make run` needs to log in."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from console.adapters.account_events import AccountChange, account_changed, department_created
from console.adapters.passwords import Passwords
from console.domain.access import Role
from console.domain.accounts import (
    SEED_ADMINISTRATOR,
    AccountEdit,
    Administrator,
    Department,
    NewUser,
    User,
    check_not_self_lockout,
    check_password,
    edited,
)
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from svckit.clock import utcnow
from svckit.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from svckit.messaging.subjects import ACCOUNT_CHANGED, DEPARTMENT_CREATED


def _add_department(uow: ConsoleUnitOfWork, department: Department, by: Administrator) -> None:
    """Stored and announced in one transaction: the ledger sees every department."""
    at = utcnow()
    uow.departments.add(department, at=at)
    uow.publish(department_created(department, by=by, at=at), subject=DEPARTMENT_CREATED)


def _announce(
    uow: ConsoleUnitOfWork,
    change: AccountChange.ValueType,
    user: NewUser,
    *,
    active: bool,
    by: Administrator,
) -> None:
    uow.publish(
        account_changed(change, user, active=active, by=by, at=utcnow()), subject=ACCOUNT_CHANGED
    )


async def create_department(
    uow: ConsoleUnitOfWork, department: Department, by: Administrator
) -> None:
    async with uow:
        if await uow.departments.get(department.department_id) is not None:
            raise AlreadyExistsError(f"department {department.department_id} exists already")
        _add_department(uow, department, by)
        await uow.commit()


async def _check_department(uow: ConsoleUnitOfWork, department_id: str) -> None:
    if department_id and await uow.departments.get(department_id) is None:
        raise InvalidArgumentError(f"department {department_id} does not exist; create it first")


async def create_user(
    uow: ConsoleUnitOfWork, passwords: Passwords, user: NewUser, password: str, by: Administrator
) -> None:
    check_password(password)
    password_hash = await asyncio.to_thread(passwords.hash, password)
    async with uow:
        if await uow.users.get(user.user_id) is not None:
            raise AlreadyExistsError(f"user {user.user_id} exists already")
        await _check_department(uow, user.department_id)
        uow.users.add(user, password_hash, created_by=by.user_id, at=utcnow())
        _announce(uow, AccountChange.ACCOUNT_CHANGE_CREATED, user, active=True, by=by)
        await uow.commit()


async def _existing(uow: ConsoleUnitOfWork, user_id: str) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def _as_new(user: User) -> NewUser:
    return NewUser(user.user_id, user.role, user.department_id, user.display_name)


async def update_user(
    uow: ConsoleUnitOfWork, user_id: str, edit: AccountEdit, by: Administrator
) -> None:
    """Role, department, display name and state in one transaction, each kind
    of change recorded for the ledger. The account's sessions end when it is
    deactivated or its role or department changes, so no browser keeps powers
    it lost. Setting what is already there changes and records nothing."""
    async with uow:
        user = await _existing(uow, user_id)
        after = edited(user, edit)
        active = user.active if edit.active is None else edit.active
        check_not_self_lockout(by, user_id, role=after.role, active=active)
        await _check_department(uow, after.department_id)
        powers_changed = (after.role, after.department_id) != (user.role, user.department_id)
        if after != _as_new(user):
            await uow.users.update(after)
            _announce(uow, AccountChange.ACCOUNT_CHANGE_UPDATED, after, active=user.active, by=by)
        if active != user.active:
            await uow.users.set_active(user_id, active)
            change = (
                AccountChange.ACCOUNT_CHANGE_REACTIVATED
                if active
                else AccountChange.ACCOUNT_CHANGE_DEACTIVATED
            )
            _announce(uow, change, after, active=active, by=by)
        if powers_changed or not active:
            await uow.sessions.remove_for_user(user_id)
        await uow.commit()


async def reset_password(
    uow: ConsoleUnitOfWork, passwords: Passwords, user_id: str, password: str, by: Administrator
) -> None:
    """A new password set by an administrator; every session of the account ends."""
    check_password(password)
    password_hash = await asyncio.to_thread(passwords.hash, password)
    async with uow:
        user = await _existing(uow, user_id)
        await uow.users.set_password_hash(user_id, password_hash)
        await uow.sessions.remove_for_user(user_id)
        _announce(
            uow,
            AccountChange.ACCOUNT_CHANGE_PASSWORD_RESET,
            _as_new(user),
            active=user.active,
            by=by,
        )
        await uow.commit()


async def list_users(uow: ConsoleUnitOfWork) -> list[User]:
    async with uow:
        return await uow.users.list()


async def get_user(uow: ConsoleUnitOfWork, user_id: str) -> User:
    async with uow:
        return await _existing(uow, user_id)


async def list_departments(uow: ConsoleUnitOfWork) -> list[Department]:
    async with uow:
        return await uow.departments.list()


DEMO_STAFF = (
    NewUser("operator", Role.OPERATOR, "centre", "值班操作员 Operator"),
    NewUser("supervisor", Role.SUPERVISOR, "centre", "值班长 Supervisor"),
    NewUser("inspector", Role.INSPECTOR, "centre-inspection", "核查员 Inspector"),
    NewUser("auditor", Role.AUDITOR, "", "审计员 Auditor"),
    NewUser("admin", Role.ADMIN, "", "管理员 Admin"),
)


def demo_department_user(department: Department) -> NewUser:
    return NewUser(
        f"dept-{department.department_id}",
        Role.DEPARTMENT_USER,
        department.department_id,
        f"{department.name_zh} 值班人员",
    )


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # The password the created users got; empty when none was created.
    password: str = ""


async def seed_demo_users(
    uow: Callable[[], ConsoleUnitOfWork],
    passwords: Passwords,
    departments: Sequence[Department],
    password: str = "",
) -> SeedResult:
    """Departments and one user per role plus one per department, idempotently:
    what exists is left alone (its password too). New users share one password,
    `password` or a random one, returned so it can be shown once."""
    result = SeedResult()
    async with uow() as u:
        for department in departments:
            if await u.departments.get(department.department_id) is None:
                _add_department(u, department, SEED_ADMINISTRATOR)
        await u.commit()
    users = [*DEMO_STAFF, *(demo_department_user(d) for d in departments if d.district_code)]
    async with uow() as u:
        missing = [user for user in users if await u.users.get(user.user_id) is None]
    result.existing = [user.user_id for user in users if user not in missing]
    if not missing:
        return result
    result.password = check_password(password) if password else secrets.token_urlsafe(12)
    password_hash = await asyncio.to_thread(passwords.hash, result.password)
    async with uow() as u:
        for user in missing:
            if await u.users.get(user.user_id) is None:
                u.users.add(user, password_hash, created_by=SEED_ADMINISTRATOR.user_id, at=utcnow())
                _announce(
                    u,
                    AccountChange.ACCOUNT_CHANGE_CREATED,
                    user,
                    active=True,
                    by=SEED_ADMINISTRATOR,
                )
                result.created.append(user.user_id)
        await u.commit()
    return result
