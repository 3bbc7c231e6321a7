"""The managed responsibility catalogue: seeding it from the file, listing and changing it.

Every change, whether from the YAML file at start-up or over gRPC, goes
through the same rule parser and is validated together with the whole
catalogue before it is stored, so the store never holds an ambiguous or
gappy catalogue. A refused change changes nothing and says which rules
conflict.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from dispatch.adapters.messages import rule_version_message
from dispatch.domain import commands
from dispatch.domain.model import ResponsibilityError
from dispatch.domain.permissions import CATALOGUE_ADMINS, require_request_id, require_role
from dispatch.domain.rules import ResponsibilityRule, parse_rule
from dispatch.domain.versions import (
    GRPC_SOURCE,
    RuleVersion,
    in_force_period,
    next_version,
    retirement,
)
from dispatch.service_layer.context import DispatchContext, build_matrix
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import Caller
from svckit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ListedRule:
    version: RuleVersion
    period: tuple[date, date | None] | None


async def seed_from_file(uow: DispatchUnitOfWork, ctx: DispatchContext) -> int:
    """Import the responsibility file's rules that are new or changed; how many versions.

    The first import takes the file as the catalogue's history (dates as
    written). Later, a changed or added entry becomes a new version in force
    from ``max(effective_from, today)`` (the past is not rewritten), and an
    unchanged file imports nothing. Raises ``ResponsibilityError`` when the
    result would be invalid: the service then refuses to start.
    """
    document = ctx.reference.document
    now = ctx.clock.now()
    today = ctx.reference.context.local_date(now)
    source = f"yaml:{document.context.version}"
    async with uow:
        await uow.rules.lock()
        history = await uow.rules.all()
        by_id: dict[str, list[RuleVersion]] = defaultdict(list)
        for version in history:
            by_id[version.rule_id].append(version)
        first_import = not history
        added: list[RuleVersion] = []
        for rule in document.rules:
            declared = _hash(rule)
            mine = by_id.get(rule.id, [])
            from_file = [v for v in mine if v.source.startswith("yaml:")]
            if from_file and from_file[-1].declared_hash == declared:
                continue
            added.append(_imported(rule, mine, first_import, today, now, source, declared))
        if not added:
            return 0
        build_matrix([*history, *added], ctx.reference.context, source=document_source(ctx))
        for version in added:
            uow.rules.add(version)
        await uow.commit()
    log.info("responsibility file imported", versions=len(added), source=source)
    return len(added)


def document_source(ctx: DispatchContext) -> str:
    return (
        f"managed catalogue after importing the responsibility file {ctx.reference.context.version}"
    )


def _imported(
    rule: ResponsibilityRule,
    mine: list[RuleVersion],
    first_import: bool,
    today: date,
    now: datetime,
    source: str,
    declared: str,
) -> RuleVersion:
    """One file entry as a version: as written on first import, else from today at the earliest."""
    if first_import:
        return RuleVersion(rule, 1, now, source, declared_hash=declared)
    if rule.effective_to is not None and rule.effective_to <= today:
        log.warning("file ends a rule in the past; retiring it from today", rule_id=rule.id)
        if mine and not mine[-1].retired:
            return replace(
                retirement(mine, rule.id, effective_to=today, today=today, now=now, source=source),
                declared_hash=declared,
            )
        return RuleVersion(rule, len(mine) + 1, now, source, retired=True, declared_hash=declared)
    start = max(rule.effective_from, today)
    return next_version(
        mine,
        replace(rule, effective_from=start),
        today=today,
        now=now,
        source=source,
        declared_hash=declared,
    )


def _hash(rule: ResponsibilityRule) -> str:
    body = json.dumps(rule.to_mapping(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


async def list_rules(query: commands.ListRules, uow: DispatchUnitOfWork) -> list[ListedRule]:
    """Every rule's latest version (or its whole history), with the period each governs."""
    async with uow:
        history = await uow.rules.all(query.rule_id)
    by_id: dict[str, list[RuleVersion]] = defaultdict(list)
    for version in history:
        by_id[version.rule_id].append(version)
    listed = []
    for versions in by_id.values():
        shown = versions if query.include_history else versions[-1:]
        listed += [ListedRule(v, in_force_period(versions, v.version)) for v in shown]
    return listed


async def upsert_rule(
    cmd: commands.UpsertRule, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.UpsertRuleResponse:
    """A new version of a rule (or a new rule), validated with the whole catalogue."""
    require_request_id(cmd.request_id)
    require_role(caller.role, CATALOGUE_ADMINS, "changing the responsibility catalogue")
    now = ctx.clock.now()
    today = ctx.reference.context.local_date(now)
    raw = dict(cmd.rule)
    raw.setdefault("effective_from", today.isoformat())
    rule, problems = parse_rule(raw, 0)
    if rule is None:
        raise InvalidArgumentError("; ".join(problems))
    async with uow:
        prior = await uow.seen("grpc:UpsertRule", cmd.request_id)
        if prior is not None:
            return pb.UpsertRuleResponse.FromString(prior.result or b"")
        version = await _record(
            uow,
            ctx,
            rule.id,
            lambda mine: next_version(
                mine, rule, today=today, now=now, source=GRPC_SOURCE, recorded_by=caller.user_id
            ),
        )
        response = pb.UpsertRuleResponse(rule=version)
        uow.remember("grpc:UpsertRule", cmd.request_id, response.SerializeToString())
        await uow.commit()
    log.info("rule changed", rule_id=rule.id, version=version.version, user_id=caller.user_id)
    return response


async def retire_rule(
    cmd: commands.RetireRule, caller: Caller, uow: DispatchUnitOfWork, ctx: DispatchContext
) -> pb.RetireRuleResponse:
    """End a rule from a date (today by default); refused if it would leave a gap."""
    require_request_id(cmd.request_id)
    require_role(caller.role, CATALOGUE_ADMINS, "changing the responsibility catalogue")
    now = ctx.clock.now()
    today = ctx.reference.context.local_date(now)
    async with uow:
        prior = await uow.seen("grpc:RetireRule", cmd.request_id)
        if prior is not None:
            return pb.RetireRuleResponse.FromString(prior.result or b"")
        version = await _record(
            uow,
            ctx,
            cmd.rule_id,
            lambda mine: retirement(
                mine,
                cmd.rule_id,
                effective_to=cmd.effective_to or today,
                today=today,
                now=now,
                source=GRPC_SOURCE,
                recorded_by=caller.user_id,
            ),
        )
        response = pb.RetireRuleResponse(rule=version)
        uow.remember("grpc:RetireRule", cmd.request_id, response.SerializeToString())
        await uow.commit()
    log.info("rule retired", rule_id=cmd.rule_id, user_id=caller.user_id)
    return response


async def _record(
    uow: DispatchUnitOfWork,
    ctx: DispatchContext,
    rule_id: str,
    make: Callable[[list[RuleVersion]], RuleVersion],
) -> pb.RuleVersion:
    """Lock the catalogue, make the version from the rule's history, validate all, store it."""
    await uow.rules.lock()
    history = await uow.rules.all()
    mine = [v for v in history if v.rule_id == rule_id]
    version = make(mine)
    try:
        build_matrix([*history, version], ctx.reference.context, source="the changed catalogue")
    except ResponsibilityError as exc:
        raise InvalidArgumentError(
            f"refused: the catalogue would be invalid: {'; '.join(exc.problems)}"
        ) from exc
    uow.rules.add(version)
    return rule_version_message(version, in_force_period([*mine, version], version.version))
