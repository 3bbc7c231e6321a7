"""The console's unit of work: its own store, and the outbox for its account events."""

from __future__ import annotations

from console.adapters.repository import (
    DepartmentRepository,
    LoginAttemptRepository,
    Open311Repository,
    SessionRepository,
    UserRepository,
)
from svckit.uow import SqlUnitOfWork


class ConsoleUnitOfWork(SqlUnitOfWork):
    users: UserRepository
    departments: DepartmentRepository
    sessions: SessionRepository
    attempts: LoginAttemptRepository
    open311: Open311Repository

    def _open(self) -> None:
        self.users = UserRepository(self.session)
        self.departments = DepartmentRepository(self.session)
        self.sessions = SessionRepository(self.session)
        self.attempts = LoginAttemptRepository(self.session)
        self.open311 = Open311Repository(self.session)
