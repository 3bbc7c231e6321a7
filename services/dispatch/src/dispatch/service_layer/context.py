"""What every dispatch use case works with: reference data, the clock, the policies,
and the managed catalogue (cached, reloaded when the store has a newer revision)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.domain.clock import Clock, SystemClock
from dispatch.domain.context import MatrixContext
from dispatch.domain.dispatching import calendar_of
from dispatch.domain.escalation import EscalationPolicy
from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.reference import ReferenceData
from dispatch.domain.versions import RuleVersion, segments
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.calendars import WorkingCalendar


class CatalogueCache:
    """The managed catalogue as a validated matrix, rebuilt only when the store changed.

    Every transaction asks the store for its revision once (one small query),
    so a change made through another replica is used from the next
    transaction on, and a batch of events costs one check, not one each.
    """

    def __init__(self, context: MatrixContext) -> None:
        self._context = context
        self._revision: tuple[str, int] | None = None
        self._matrix: ResponsibilityMatrix | None = None

    async def matrix(self, uow: DispatchUnitOfWork) -> ResponsibilityMatrix:
        if uow.matrix is not None:
            return uow.matrix
        revision = await uow.rules.revision()
        if self._matrix is None or revision != self._revision:
            self._matrix = build_matrix(await uow.rules.all(), self._context)
            self._revision = revision
        uow.matrix = self._matrix
        return self._matrix


def build_matrix(
    history: list[RuleVersion], context: MatrixContext, source: str = "managed catalogue"
) -> ResponsibilityMatrix:
    return ResponsibilityMatrix(segments(history), context, source=source)


@dataclass
class DispatchContext:
    """Built once in bootstrap and handed to every handler."""

    reference: ReferenceData
    clock: Clock = field(default_factory=SystemClock)
    policy: EscalationPolicy = field(default_factory=EscalationPolicy)
    max_returns: int = 3
    catalogue: CatalogueCache = field(init=False)

    def __post_init__(self) -> None:
        self.catalogue = CatalogueCache(self.reference.context)

    def calendar(self, department_id: str = "") -> WorkingCalendar:
        """A department's calendar; the city's for the centre's own stages (no department)."""
        if not department_id:
            return self.reference.calendars.default
        return calendar_of(self.reference.calendars, self.reference.directory, department_id)
