"""``python -m dispatch who-would-receive``: ask the responsibility catalogue from a shell.

By default it answers from the files the service loads (settings and
``CITYOPS_*`` variables apply), with no server running: for operators
checking a rule change before deploying it. With ``--store`` it answers
from the service's database, i.e. the managed catalogue with every version
changed over gRPC; either way a past ``--at`` gets the rule then in force.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, datetime, time, tzinfo
from typing import Any

from dispatch import NAME
from dispatch.adapters.migrations import VERSIONS as MIGRATIONS
from dispatch.bootstrap import load_settings_reference
from dispatch.config import DispatchSettings
from dispatch.domain import commands
from dispatch.domain.matrix import ResponsibilityMatrix
from dispatch.domain.model import ResponsibilityError, RoutingAnswer
from dispatch.domain.reference import ReferenceData
from dispatch.domain.stages import URGENCIES
from dispatch.service_layer.context import build_matrix
from dispatch.service_layer.routing import answer
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from svckit import db, migrations
from svckit.clock import utcnow
from svckit.errors import DomainError, NotFoundError
from svckit.reference import CatalogueError, CityMapError

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


def add_who_would_receive(commands_parser: Any) -> None:
    parser = commands_parser.add_parser(
        "who-would-receive", help="which department a category at a point goes to"
    )
    parser.add_argument("--category", required=True, help="小类 code, e.g. E0105")
    parser.add_argument("--lat", type=float, required=True, help="WGS84 latitude")
    parser.add_argument("--lon", type=float, required=True, help="WGS84 longitude")
    parser.add_argument(
        "--at",
        help="date or ISO datetime (city local time unless it has an offset); default now",
    )
    parser.add_argument(
        "--urgency", default="default", choices=URGENCIES, help="picks the stage deadlines"
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="answer from the service's database (rules changed over gRPC included)",
    )
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def parse_at(value: str | None, city_timezone: tzinfo) -> datetime | None:
    """``2026-01-01`` is that day's start in the city; a naive datetime is city time."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), city_timezone)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--at: not a date or datetime: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=city_timezone)


def who_would_receive(args: argparse.Namespace) -> int:
    """Print the answer; exit 1 when no rule covers it, 2 for a wrong question or bad files."""
    try:
        settings = DispatchSettings()
        reference = load_settings_reference(settings)
        matrix = asyncio.run(_stored(settings, reference)) if args.store else reference.matrix
        at = parse_at(args.at, matrix.timezone)
        query = commands.WhoWouldReceive(args.category, args.lat, args.lon, at, args.urgency)
        found = answer(query, matrix, reference.city_map, utcnow())
    except (ResponsibilityError, CatalogueError, CityMapError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND if isinstance(exc, NotFoundError) else EXIT_USAGE
    shown = describe(query, found, reference)
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        width = max(len(k) for k in shown) + 2
        for key, value in shown.items():
            print(f"{key + ':':<{width}}{value}")
    return 0


async def _stored(settings: DispatchSettings, reference: ReferenceData) -> ResponsibilityMatrix:
    engine = db.create_engine(settings.resolved_database_url(NAME))
    try:
        await migrations.upgrade(engine, NAME, MIGRATIONS)
        async with DispatchUnitOfWork(engine, NAME) as uow:
            history = await uow.rules.all()
    finally:
        await engine.dispose()
    if not history:
        raise ResponsibilityError("the service's database", ["holds no rules yet"])
    return build_matrix(history, reference.context)


def describe(
    query: commands.WhoWouldReceive, found: RoutingAnswer, reference: ReferenceData
) -> dict[str, Any]:
    """The answer with the names people need, as ordered key/value pairs."""
    category = reference.catalogue.get(query.category_code)
    district = reference.city_map.area(found.district_code)
    decision = found.decision
    department = reference.directory.get(decision.department_id)
    at = query.at or datetime.now(reference.context.timezone)
    return {
        "category": f"{category.code} {category.name_zh} / {category.name_en}",
        "point": f"{query.latitude}, {query.longitude}",
        "date": reference.context.local_date(at).isoformat(),
        "district": f"{district.code} {district.name_zh} / {district.name_en}",
        "street": found.place.street_code,
        "grid": found.place.grid_code,
        "department_id": decision.department_id or "(manual dispatch)",
        "department": f"{department.name_zh} / {department.name_en}" if department else "",
        "assists": ", ".join(decision.assist_ids),
        "rule": decision.rule_id,
        "rule_version": decision.rule_version,
        "handling_hours": decision.handling_hours,
        "stage_hours": {
            stage.value: round(value.total_seconds() / 3600, 2)
            for stage, value in decision.stage_hours.items()
        },
        "closing_criteria": decision.closing_criteria_zh,
    }
