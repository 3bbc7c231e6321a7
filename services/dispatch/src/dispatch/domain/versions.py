"""Rule versions: the catalogue's history, and the period each version actually governs.

Rules are never edited in place. A change (from the YAML file or over gRPC)
records a new version of the rule, in force from its ``effective_from``; it
cuts every earlier version of the same rule short at that date, and
retiring a rule records a version that cuts them at the retirement date and
governs nothing itself. A change may not start before today: what was in
force on a past date stays what it was, so "who would have received this on
that date?" keeps its answer and every recorded decision names a rule
version that really governed it then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import groupby

from dispatch.domain.rules import ResponsibilityRule
from svckit.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

GRPC_SOURCE = "grpc"


@dataclass(frozen=True)
class RuleVersion:
    """One recorded version of a rule, as declared (before later versions cut it)."""

    rule: ResponsibilityRule
    version: int
    recorded_at: datetime
    source: str
    retired: bool = False
    recorded_by: str = ""
    # Hash of the YAML entry it was imported from, so an unchanged file imports nothing.
    declared_hash: str = ""

    __hash__ = None  # type: ignore[assignment]

    @property
    def rule_id(self) -> str:
        return self.rule.id


@dataclass(frozen=True)
class Segment:
    """A version over the period it governs: ``rule`` carries the clipped dates."""

    rule: ResponsibilityRule
    version: int

    __hash__ = None  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """How problems name it: the id, plus the version once there are several."""
        return self.rule.id if self.version == 1 else f"{self.rule.id} (v{self.version})"


def segments(history: Iterable[RuleVersion]) -> list[Segment]:
    """Every version over the period it governs; versions replaced before they began drop out."""
    result: list[Segment] = []
    ordered = sorted(history, key=lambda v: (v.rule_id, v.version))
    for _, group in groupby(ordered, key=lambda v: v.rule_id):
        versions = list(group)
        for index, version in enumerate(versions):
            if version.retired:
                continue
            rule = version.rule
            cuts = [later.rule.effective_from for later in versions[index + 1 :]]
            end = min([d for d in (rule.effective_to, *cuts) if d is not None], default=None)
            if end is not None and end <= rule.effective_from:
                continue
            result.append(Segment(replace(rule, effective_to=end), version.version))
    return result


def in_force_period(
    history: Sequence[RuleVersion], version: int
) -> tuple[date, date | None] | None:
    """The period one version of a rule governs, or ``None`` when it never did."""
    for segment in segments(history):
        if segment.version == version:
            return segment.rule.effective_from, segment.rule.effective_to
    return None


def next_version(
    history: Sequence[RuleVersion],
    rule: ResponsibilityRule,
    *,
    today: date,
    now: datetime,
    source: str,
    recorded_by: str = "",
    declared_hash: str = "",
) -> RuleVersion:
    """A new version of ``rule.id`` (version 1 for a new rule); refuses to rewrite the past."""
    if rule.effective_from < today:
        raise InvalidArgumentError(
            f"rule {rule.id}: effective_from {rule.effective_from} is before today ({today}); "
            "the past is never rewritten: a change takes effect today or later"
        )
    return RuleVersion(
        rule=rule,
        version=_last(history) + 1,
        recorded_at=now,
        source=source,
        recorded_by=recorded_by,
        declared_hash=declared_hash,
    )


def retirement(
    history: Sequence[RuleVersion],
    rule_id: str,
    *,
    effective_to: date,
    today: date,
    now: datetime,
    source: str,
    recorded_by: str = "",
) -> RuleVersion:
    """The version that ends ``rule_id`` on ``effective_to`` (first day no longer in force)."""
    if not history:
        raise NotFoundError(f"no rule {rule_id!r}")
    latest = max(history, key=lambda v: v.version)
    if latest.retired:
        raise FailedPreconditionError(f"rule {rule_id} is already retired")
    if effective_to < today:
        raise InvalidArgumentError(
            f"rule {rule_id}: effective_to {effective_to} is before today ({today}); "
            "the past is never rewritten"
        )
    return RuleVersion(
        rule=replace(latest.rule, effective_from=effective_to, effective_to=None),
        version=latest.version + 1,
        recorded_at=now,
        source=source,
        retired=True,
        recorded_by=recorded_by,
    )


def _last(history: Sequence[RuleVersion]) -> int:
    return max((v.version for v in history), default=0)
