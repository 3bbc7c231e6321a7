"""考核评价 from the ledger alone: the entries that matter for the period are
read back (their stored bodies re-parsed), folded into case histories and
evaluated by the published formula. The report names the ledger prefix it
was computed from, so anyone holding the ledger can recompute it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audit.adapters.payloads import STEP_OF_TYPE, UnreadableEntryError, case_step
from audit.domain import merkle, rules
from audit.domain.case_history import CaseHistory
from audit.domain.evaluation import Evaluation, GroupBy, Period, evaluate
from audit.service_layer.access import require
from audit.service_layer.context import AuditContext
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.clock import utcnow
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller

PAGE = 2000
STEP_TYPES = tuple(STEP_OF_TYPE)


@dataclass(frozen=True)
class EvaluationReport:
    evaluation: Evaluation
    ledger_tree_size: int
    ledger_root_hash: bytes
    computed_at: datetime


async def evaluate_period(
    uow: AuditUnitOfWork,
    ctx: AuditContext,
    caller: Caller,
    period: Period,
    group_by: GroupBy | None,
) -> EvaluationReport:
    require(caller, rules.EVALUATOR_ROLES, "evaluate departments")
    if group_by is None:
        raise InvalidArgumentError("group_by is required: department or district")
    if period.start.tzinfo is None or period.end.tzinfo is None or period.start >= period.end:
        raise InvalidArgumentError("the period needs period_start before period_end")
    histories: dict[str, CaseHistory] = {}
    async with uow.snapshot() as view:
        tip = await view.ledger.stored_tip()
        size = tip.size if tip else 0
        after: int | None = 0
        while page := await view.ledger.page(
            after, PAGE, event_types=STEP_TYPES, up_to=size, before=period.end
        ):
            for entry in page:
                if not entry.case_id:
                    continue
                history = histories.setdefault(entry.case_id, CaseHistory(entry.case_id))
                try:
                    step = case_step(entry)
                except UnreadableEntryError as exc:
                    history.unreadable.append(str(exc))
                    continue
                if step is not None:
                    history.apply(step)
            after = page[-1].sequence
    evaluation = evaluate(histories.values(), period, group_by, ctx.formula)
    root = tip.root if tip else merkle.EMPTY_ROOT
    return EvaluationReport(evaluation, size, root, utcnow())
