"""The detection database's schema history: Alembic revisions on the `detection` branch
(svckit.migrations applies them at start; `python -m cityops_tools.migrations
revision detection -m ...` writes the next one)."""

from pathlib import Path

VERSIONS = Path(__file__).resolve().parent
