"""The dispatch database's schema history: Alembic revisions on the `dispatch` branch
(svckit.migrations applies them at start; `python -m cityops_tools.migrations
revision dispatch -m ...` writes the next one)."""

from pathlib import Path

VERSIONS = Path(__file__).resolve().parent
