"""The workorders database's schema history: Alembic revisions on the `workorders` branch
(svckit.migrations applies them at start; `python -m cityops_tools.migrations
revision workorders -m ...` writes the next one)."""

from pathlib import Path

VERSIONS = Path(__file__).resolve().parent
