"""The console database's schema history: Alembic revisions on the `console` branch
(svckit.migrations applies them at start; `python -m cityops_tools.migrations
revision console -m ...` writes the next one)."""

from pathlib import Path

VERSIONS = Path(__file__).resolve().parent
