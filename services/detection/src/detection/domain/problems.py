"""How a refused report is explained: every problem at once, each naming its field.

Shared by the rules and by every source adapter, so an integrator reads the
same shape of answer whatever format they sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from svckit.errors import InvalidArgumentError


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a report; `field` is "" when no single field is at fault."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class InvalidReportError(InvalidArgumentError):
    """The report is refused; `problems` lists every reason, each naming its field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid detection report: " + "; ".join(map(str, self.problems)))


def refuse(field: str, reason: str) -> InvalidReportError:
    """A refusal with a single problem (for adapters that stop at the first)."""
    return InvalidReportError([FieldProblem(field, reason)])


def has_control(text: str, allowed: str = "") -> bool:
    """Control characters (NUL breaks PostgreSQL text) and lone surrogates (not
    encodable as UTF-8, so neither storable nor sendable) are refused at the door."""
    return _refused_characters(allowed).search(text) is not None


# Unicode's Cc category is fixed (C0, DEL and C1: stable by policy); Cs is the
# surrogate block.
_CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))


@cache
def _refused_characters(allowed: str) -> re.Pattern[str]:
    """The Cc and Cs categories, less `allowed`, as one character class: a
    search runs in C, where a category look-up per character did not (it was
    a few per cent of ingest's CPU)."""
    controls = "".join(c for c in _CONTROLS if c not in allowed)
    return re.compile(f"[{re.escape(controls)}\ud800-\udfff]")


def clean_text(name: str, value: str, limit: int, problems: list[FieldProblem]) -> str:
    """`value` stripped; a problem is recorded if it is too long or holds control characters."""
    text = value.strip()
    if len(text) > limit:
        problems.append(FieldProblem(name, f"must be at most {limit} characters"))
    elif has_control(text, allowed="\n\t"):
        problems.append(
            FieldProblem(name, "must not contain control characters or invalid Unicode")
        )
    return text
