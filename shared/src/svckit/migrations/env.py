"""Alembic's environment for every CityOps database: always run with the
connection `svckit.migrations` hands over (never from a URL in a file), and
with only the tables the service owns in view."""

from __future__ import annotations

from collections.abc import Callable

from alembic import context
from sqlmodel import SQLModel

from svckit.migrations import object_filter

config = context.config
connection = config.attributes["connection"]
include_table: Callable[[str], bool] = config.attributes["include_table"]


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    include_object=object_filter(include_table),
    compare_type=True,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=True,
    version_table="alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
