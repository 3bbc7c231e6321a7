"""How every reference file (catalogue, city map, calendars, 权责清单) reports
what is wrong with it: all its problems at once, each naming its entry, so one
edit fixes the whole file rather than one mistake per restart."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar


class ReferenceFileError(ValueError):
    """A reference file is unusable; ``problems`` lists each one."""

    # What kind of file, for the message ("catalogue" → "invalid catalogue <source>").
    kind: ClassVar[str] = ""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        what = f"{self.kind} {source}" if self.kind else source
        super().__init__(f"invalid {what}: {len(self.problems)} problem(s)\n{lines}")


def parse_date(value: Any, field: str, label: str, problems: list[str]) -> date | None:
    """A calendar date from YAML (already a ``date``) or an ISO string; else a
    problem naming `label` and `field`, and None."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{label}: {field} must be a date like 2026-01-01 (got {value!r})")
    return None
