"""The console's integration events: account and department changes as the
ledger records them. Never a password or a password hash."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.common.v1 import common_pb2
from cityops.console.v1 import events_pb2
from console.domain.access import Role
from console.domain.accounts import Administrator, Department, NewUser
from svckit.clock import new_id

AccountChange = events_pb2.AccountChange


def actor_role(role: Role | None) -> common_pb2.ActorRole.ValueType:
    if role is None:
        return common_pb2.ACTOR_ROLE_SYSTEM
    return common_pb2.ActorRole.Value(f"ACTOR_ROLE_{role.name}")


def _actor(by: Administrator) -> common_pb2.Actor:
    return common_pb2.Actor(
        user_id=by.user_id, department_id=by.department_id, role=actor_role(by.role)
    )


def _timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def account_changed(
    change: AccountChange.ValueType,
    user: NewUser,
    *,
    active: bool,
    by: Administrator,
    at: datetime,
) -> events_pb2.AccountChanged:
    return events_pb2.AccountChanged(
        action_id=new_id("adm-"),
        change=change,
        by=_actor(by),
        user_id=user.user_id,
        role=actor_role(user.role),
        department_id=user.department_id,
        display_name=user.display_name,
        active=active,
        changed_at=_timestamp(at),
        client_address=by.client_address,
    )


def department_created(
    department: Department, *, by: Administrator, at: datetime
) -> events_pb2.DepartmentCreated:
    return events_pb2.DepartmentCreated(
        action_id=new_id("adm-"),
        by=_actor(by),
        department_id=department.department_id,
        name_zh=department.name_zh,
        name_en=department.name_en,
        district_code=department.district_code,
        created_at=_timestamp(at),
        client_address=by.client_address,
    )
