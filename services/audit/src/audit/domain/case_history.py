"""A case's history as evaluation reads it from the ledger: the steps that
count (filed, dispatched, extended, completed, reworked, closed …) folded
into one record per case, as of a moment.

Only what the ledger's entries say is used; a step is taken at the time the
event occurred (its `occurred_at`), and only steps before the moment count,
so a report on a past period does not change when later events arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Step(StrEnum):
    FILED = "filed"
    REJECTED = "rejected"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    EXTENSION_APPROVED = "extension_approved"
    BACKLOGGED = "backlogged"
    RESUMED = "resumed"
    COMPLETED = "completed"
    REWORK = "rework"
    CLOSED = "closed"


INTAKE_STEPS = frozenset({Step.FILED, Step.REJECTED, Step.MERGED})
# Closures (reason codes) that end a case without disposal.
CLOSED_WITHOUT_DISPOSAL = frozenset({"REJECTED", "MERGED", "BACKLOGGED"})


@dataclass(frozen=True)
class CaseStep:
    """One ledger entry reduced to what evaluation needs."""

    case_id: str
    step: Step
    at: datetime
    sequence: int
    department_id: str = ""
    district_code: str = ""
    deadline: datetime | None = None
    # A lead (主办) dispatch or completion; assisting (协办) ones do not set
    # the responsible department, the deadline or the handling time.
    lead: bool = True
    reason_code: str = ""


@dataclass
class CaseHistory:
    case_id: str
    intake_at: datetime | None = None
    filed_at: datetime | None = None
    district_code: str = ""
    department_id: str = ""
    dispatched_at: datetime | None = None
    # When the current lead department was dispatched: handling starts there.
    lead_dispatched_at: datetime | None = None
    deadline: datetime | None = None
    extended: bool = False
    backlogged: bool = False
    completions: list[datetime] = field(default_factory=list)
    reworked: bool = False
    # REJECTED / MERGED (intake) after filing or dispatch.
    ended_by_intake: str = ""
    closed_at: datetime | None = None
    close_reason: str = ""
    # Ledger entries of this case that could not be read, with why.
    unreadable: list[str] = field(default_factory=list)

    def apply(self, step: CaseStep) -> None:
        if step.step in INTAKE_STEPS and self.intake_at is None:
            self.intake_at = step.at
        if step.district_code and not self.district_code:
            self.district_code = step.district_code
        handler = _APPLY.get(step.step)
        if handler is not None:
            handler(self, step)

    @property
    def ended_without_disposal(self) -> str:
        """ "REJECTED", "MERGED" or "BACKLOGGED" when the case ended (or stands)
        so: such a case is never due for disposal."""
        if self.close_reason.upper() in CLOSED_WITHOUT_DISPOSAL:
            return self.close_reason.upper()
        return self.ended_by_intake or ("BACKLOGGED" if self.backlogged else "")

    @property
    def completed_for_closure(self) -> datetime | None:
        """The last completion before the closure: when the work was done."""
        if self.closed_at is None:
            return None
        done = [at for at in self.completions if at <= self.closed_at]
        return max(done) if done else None


def _filed(h: CaseHistory, s: CaseStep) -> None:
    h.filed_at = h.filed_at or s.at


def _dispatched(h: CaseHistory, s: CaseStep) -> None:
    h.dispatched_at = h.dispatched_at or s.at
    h.backlogged = False
    if s.lead:
        h.department_id = s.department_id or h.department_id
        h.lead_dispatched_at = s.at
        h.deadline = s.deadline or h.deadline


def _extended(h: CaseHistory, s: CaseStep) -> None:
    h.extended = True
    h.deadline = s.deadline or h.deadline


def _rejected(h: CaseHistory, _s: CaseStep) -> None:
    h.ended_by_intake = "REJECTED"


def _merged(h: CaseHistory, _s: CaseStep) -> None:
    h.ended_by_intake = "MERGED"


def _backlogged(h: CaseHistory, _s: CaseStep) -> None:
    h.backlogged = True


def _resumed(h: CaseHistory, _s: CaseStep) -> None:
    h.backlogged = False


def _completed(h: CaseHistory, s: CaseStep) -> None:
    if s.lead:
        h.completions.append(s.at)


def _rework(h: CaseHistory, _s: CaseStep) -> None:
    h.reworked = True


def _closed(h: CaseHistory, s: CaseStep) -> None:
    h.closed_at, h.close_reason = s.at, s.reason_code


_APPLY = {
    Step.FILED: _filed,
    Step.REJECTED: _rejected,
    Step.MERGED: _merged,
    Step.DISPATCHED: _dispatched,
    Step.EXTENSION_APPROVED: _extended,
    Step.BACKLOGGED: _backlogged,
    Step.RESUMED: _resumed,
    Step.COMPLETED: _completed,
    Step.REWORK: _rework,
    Step.CLOSED: _closed,
}
