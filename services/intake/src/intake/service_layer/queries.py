"""Reads: a case, pages of cases, the triage queue, the discarded detections."""

from __future__ import annotations

from intake.domain.detections import Discard
from intake.domain.model import Case, CasePage, CaseQuery
from intake.service_layer.unit_of_work import IntakeUnitOfWork
from svckit.errors import InvalidArgumentError, NotFoundError


async def get_case(case_id: str, uow: IntakeUnitOfWork) -> Case:
    if not case_id:
        raise InvalidArgumentError("case_id is required")
    async with uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    return case


async def list_cases(query: CaseQuery, uow: IntakeUnitOfWork) -> CasePage:
    async with uow:
        return await uow.cases.page(query)


async def list_discards(
    offset: int, limit: int, uow: IntakeUnitOfWork
) -> tuple[list[Discard], int]:
    async with uow:
        return await uow.discards.page(offset, limit)


async def counts(uow: IntakeUnitOfWork) -> tuple[dict[str, int], dict[str, int]]:
    """(cases by state, discards by reason): what the metrics gauges show."""
    async with uow:
        return await uow.cases.count_by_state(), await uow.discards.count_by_reason()
