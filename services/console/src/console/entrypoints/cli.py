"""Administration commands: departments, users, demo users, front-end assets.
They work on the console's store directly (no other service needs to run)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from console.adapters import reference
from console.adapters.assets import FRONTEND_DIR, STATIC_DIR, install_assets
from console.adapters.migrations import VERSIONS as MIGRATIONS
from console.adapters.passwords import Passwords
from console.bootstrap import seed, static_dir_of
from console.config import ConsoleSettings
from console.domain.access import parse_role
from console.domain.accounts import CLI_ADMINISTRATOR, AccountEdit, new_department, new_user
from console.service_layer import accounts
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from svckit import db, migrations
from svckit.errors import DomainError


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dept = sub.add_parser("create-department", help="add a department users can be bound to")
    dept.add_argument("--id", required=True, dest="department_id")
    dept.add_argument("--name-zh", required=True)
    dept.add_argument("--name-en", default="")
    dept.add_argument("--district", default="")
    user = sub.add_parser("create-user", help="add a local account (password from stdin or a file)")
    user.add_argument("--user", required=True)
    user.add_argument("--role", required=True)
    user.add_argument("--department", default="")
    user.add_argument("--display-name", default="")
    user.add_argument("--password-file", type=Path)
    edit = sub.add_parser("update-user", help="change an account's role, department, name or state")
    edit.add_argument("--user", required=True)
    edit.add_argument("--role")
    edit.add_argument("--department")
    edit.add_argument("--display-name")
    state = edit.add_mutually_exclusive_group()
    state.add_argument("--deactivate", dest="active", action="store_false", default=None)
    state.add_argument("--reactivate", dest="active", action="store_true")
    reset = sub.add_parser(
        "reset-password", help="set an account's password (stdin or a file); its sessions end"
    )
    reset.add_argument("--user", required=True)
    reset.add_argument("--password-file", type=Path)
    demo = sub.add_parser(
        "seed-demo-users", help="departments and one demo user per role and department"
    )
    demo.add_argument("--password-file", type=Path)
    sub.add_parser("install-assets", help="copy the npm front-end libraries into the static folder")


def read_password(path: Path | None) -> str:
    """From a file (first line), else stdin: a prompt on a terminal, the first line of a pipe."""
    if path is not None:
        return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


@asynccontextmanager
async def store(settings: ConsoleSettings) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(settings.resolved_database_url("console"))
    try:
        await migrations.upgrade(engine, "console", MIGRATIONS)
        yield engine
    finally:
        await engine.dispose()


async def run_command(args: argparse.Namespace, settings: ConsoleSettings) -> int:
    if args.command == "install-assets":
        missing = install_assets(settings.frontend_dir or FRONTEND_DIR, static_dir_of(settings))
        print(
            "missing: " + ", ".join(missing)
            if missing
            else f"assets in {static_dir_of(settings) or STATIC_DIR}/vendor"
        )
        return 1 if missing else 0
    passwords = Passwords()
    try:
        async with store(settings) as engine:

            def uow() -> ConsoleUnitOfWork:
                return ConsoleUnitOfWork(engine, "console")

            if args.command == "create-department":
                dept = new_department(args.department_id, args.name_zh, args.name_en, args.district)
                await accounts.create_department(uow(), dept, CLI_ADMINISTRATOR)
                print(f"department {dept.department_id} created")
            elif args.command == "create-user":
                user = new_user(
                    args.user, parse_role(args.role), args.department, args.display_name
                )
                await accounts.create_user(
                    uow(), passwords, user, read_password(args.password_file), CLI_ADMINISTRATOR
                )
                print(f"user {user.user_id} ({user.role.value}) created")
            elif args.command == "update-user":
                change = AccountEdit(
                    role=parse_role(args.role) if args.role is not None else None,
                    department_id=args.department,
                    display_name=args.display_name,
                    active=args.active,
                )
                await accounts.update_user(uow(), args.user, change, CLI_ADMINISTRATOR)
                print(f"user {args.user} updated")
            elif args.command == "reset-password":
                await accounts.reset_password(
                    uow(),
                    passwords,
                    args.user,
                    read_password(args.password_file),
                    CLI_ADMINISTRATOR,
                )
                print(f"password of {args.user} set; its sessions ended")
            elif args.command == "seed-demo-users":
                if args.password_file:
                    settings = settings.model_copy(
                        update={"demo_password": read_password(args.password_file)}
                    )
                await seed(settings, uow, passwords)
    except (DomainError, OSError, ValueError) as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 2
    return 0


__all__ = ["add_commands", "reference", "run_command"]
