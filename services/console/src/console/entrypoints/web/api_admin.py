"""REST API for administrators: users and departments (the CLI does the same)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from console.domain.access import Permission, Principal, parse_role
from console.domain.accounts import AccountEdit, Administrator, User, new_department, new_user
from console.entrypoints.web.deps import client_ip, csrf_guard, principal, web
from console.service_layer import accounts, dead_letters

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(csrf_guard)])
Who = Annotated[Principal, Depends(principal)]


class UserBody(BaseModel):
    user_id: str = Field(max_length=64)
    role: str = Field(max_length=32)
    department_id: str = Field("", max_length=64)
    display_name: str = Field("", max_length=100)
    password: str = Field(min_length=1, max_length=256)


class UserEditBody(BaseModel):
    """Only the fields given change."""

    role: str | None = Field(None, max_length=32)
    department_id: str | None = Field(None, max_length=64)
    display_name: str | None = Field(None, max_length=100)
    active: bool | None = None


class PasswordBody(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class DepartmentBody(BaseModel):
    department_id: str = Field(max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field("", max_length=200)
    district_code: str = Field("", max_length=16)


def administrator(request: Request, who: Principal) -> Administrator:
    """The acting administrator as the ledger will name them."""
    who.require(Permission.ADMIN)
    return Administrator(who.user_id, who.role, who.department_id, client_ip(request))


def _user_view(u: User) -> dict[str, Any]:
    return {
        "user_id": u.user_id,
        "role": u.role.value,
        "department_id": u.department_id,
        "display_name": u.display_name,
        "active": u.active,
    }


@router.get("/users", summary="Every local account (no password hashes)")
async def list_users(request: Request, who: Who) -> dict[str, Any]:
    who.require(Permission.ADMIN)
    users = await accounts.list_users(web(request).uow())
    return {"users": [_user_view(u) for u in users]}


@router.post("/users", summary="Create a local account", status_code=201)
async def create_user(request: Request, who: Who, body: UserBody) -> dict[str, Any]:
    by = administrator(request, who)
    user = new_user(body.user_id, parse_role(body.role), body.department_id, body.display_name)
    app = web(request)
    await accounts.create_user(app.uow(), app.passwords, user, body.password, by)
    return {"user_id": user.user_id, "role": user.role.value, "department_id": user.department_id}


@router.patch("/users/{user_id}", summary="Change an account's role, department, name or state")
async def update_user(
    request: Request, who: Who, user_id: str, body: UserEditBody
) -> dict[str, Any]:
    by = administrator(request, who)
    app = web(request)
    edit = AccountEdit(
        role=parse_role(body.role) if body.role is not None else None,
        department_id=body.department_id,
        display_name=body.display_name,
        active=body.active,
    )
    await accounts.update_user(app.uow(), user_id, edit, by)
    return _user_view(await accounts.get_user(app.uow(), user_id))


@router.post(
    "/users/{user_id}/password",
    summary="Set a new password; the account's sessions end",
    status_code=204,
)
async def reset_password(request: Request, who: Who, user_id: str, body: PasswordBody) -> None:
    by = administrator(request, who)
    app = web(request)
    await accounts.reset_password(app.uow(), app.passwords, user_id, body.password, by)


@router.get("/departments", summary="Departments users can be bound to")
async def list_departments(request: Request, who: Who) -> dict[str, Any]:
    who.require(Permission.ADMIN)
    found = await accounts.list_departments(web(request).uow())
    return {"departments": [asdict(d) for d in found]}


@router.post("/departments", summary="Create a department", status_code=201)
async def create_department(request: Request, who: Who, body: DepartmentBody) -> dict[str, Any]:
    by = administrator(request, who)
    dept = new_department(body.department_id, body.name_zh, body.name_en, body.district_code)
    await accounts.create_department(web(request).uow(), dept, by)
    return asdict(dept)


class ReplayBody(BaseModel):
    """`ids` (or one `id`) of that service's dead letters, or `all`."""

    ids: list[int] = Field(default_factory=list, max_length=500)
    id: int | None = None
    all: bool = False


def _letter_view(letter: Any) -> dict[str, Any]:
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "subject": letter.subject,
        "event_type": letter.event_type,
        "message_id": letter.message_id,
        "deliveries": letter.deliveries,
        "reason": letter.reason,
        "failed_at": letter.failed_at.ToDatetime().isoformat() + "Z",
        "size_bytes": letter.size_bytes,
    }


@router.get("/dead-letters", summary="Every service's dead letters (what its consumers gave up on)")
async def list_dead_letters(request: Request, who: Who) -> dict[str, Any]:
    found = await dead_letters.list_all(web(request).console, who)
    return {
        "services": [
            {
                "service": s.service,
                "total": s.total,
                "error": s.error,
                "dead_letters": [_letter_view(letter) for letter in s.letters],
            }
            for s in found
        ]
    }


@router.post(
    "/dead-letters/{service}/replay",
    summary="Republish a service's dead letters after the cause is fixed",
)
async def replay_dead_letters(
    request: Request, who: Who, service: str, body: ReplayBody
) -> dict[str, Any]:
    ids = [*body.ids, *([body.id] if body.id is not None else [])]
    reply = await dead_letters.replay(web(request).console, who, service, ids, body.all)
    return {"replayed": reply.replayed, "not_found": list(reply.not_found)}
