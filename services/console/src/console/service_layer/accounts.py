"""Creating departments and users (CLI and admin screens), and the demo users
`make run` needs to log in."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from console.adapters.passwords import Passwords
from console.domain.access import Role
from console.domain.accounts import Department, NewUser, User, check_password
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from svckit.clock import utcnow
from svckit.errors import AlreadyExistsError, InvalidArgumentError


async def create_department(uow: ConsoleUnitOfWork, department: Department) -> None:
    async with uow:
        if await uow.departments.get(department.department_id) is not None:
            raise AlreadyExistsError(f"department {department.department_id} exists already")
        uow.departments.add(department, at=utcnow())
        await uow.commit()


async def create_user(
    uow: ConsoleUnitOfWork, passwords: Passwords, user: NewUser, password: str, created_by: str
) -> None:
    check_password(password)
    password_hash = await asyncio.to_thread(passwords.hash, password)
    async with uow:
        if await uow.users.get(user.user_id) is not None:
            raise AlreadyExistsError(f"user {user.user_id} exists already")
        if user.department_id and await uow.departments.get(user.department_id) is None:
            raise InvalidArgumentError(
                f"department {user.department_id} does not exist; create it first"
            )
        uow.users.add(user, password_hash, created_by=created_by, at=utcnow())
        await uow.commit()


async def list_users(uow: ConsoleUnitOfWork) -> list[User]:
    async with uow:
        return await uow.users.list()


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
                u.departments.add(department, at=utcnow())
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
                u.users.add(user, password_hash, created_by="seed-demo-users", at=utcnow())
                result.created.append(user.user_id)
        await u.commit()
    return result
