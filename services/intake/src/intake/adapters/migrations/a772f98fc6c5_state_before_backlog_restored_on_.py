"""state before backlog, restored on resuming

Revision ID: a772f98fc6c5
Revises: 2b242ed82774
Create Date: 2026-11-22 00:45:43.035167
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import svckit.db

revision: str = "a772f98fc6c5"
down_revision: str | Sequence[str] | None = "2b242ed82774"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cases already in the table (or in 挂账) have no kept state: "" (resuming then takes
    # the state CaseResumed names).
    with op.batch_alter_table("intake_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "state_before_backlog",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "state_before_backlog_at", svckit.db.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_case", schema=None) as batch_op:
        batch_op.drop_column("state_before_backlog_at")
        batch_op.drop_column("state_before_backlog")
