"""``python -m dispatch who-would-receive``: ask the responsibility matrix from a shell.

Answers from the same files the service loads (settings and ``CITYOPS_*``
variables apply), with no server running: for operators checking a rule
change before deploying it, or answering "who had this on that date?".
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time, tzinfo
from typing import Any

from dispatch.bootstrap import load_settings_reference
from dispatch.config import DispatchSettings
from dispatch.domain import commands
from dispatch.domain.model import ResponsibilityError, RoutingAnswer
from dispatch.domain.reference import ReferenceData
from dispatch.service_layer import handlers
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
        reference = load_settings_reference(DispatchSettings())
        at = parse_at(args.at, reference.matrix.timezone)
        query = commands.WhoWouldReceive(args.category, args.lat, args.lon, at)
        answer = handlers.who_would_receive(query, reference)
    except (ResponsibilityError, CatalogueError, CityMapError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND if isinstance(exc, NotFoundError) else EXIT_USAGE
    shown = describe(query, answer, reference)
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        width = max(len(k) for k in shown) + 2
        for key, value in shown.items():
            print(f"{key + ':':<{width}}{value}")
    return 0


def describe(
    query: commands.WhoWouldReceive, answer: RoutingAnswer, reference: ReferenceData
) -> dict[str, Any]:
    """The answer with the names people need, as ordered key/value pairs."""
    category = reference.catalogue.get(query.category_code)
    district = reference.city_map.area(answer.district_code)
    department = reference.directory.get(answer.decision.department_id)
    at = query.at or datetime.now(reference.matrix.timezone)
    return {
        "category": f"{category.code} {category.name_zh} / {category.name_en}",
        "point": f"{query.latitude}, {query.longitude}",
        "date": reference.matrix.local_date(at).isoformat(),
        "district": f"{district.code} {district.name_zh} / {district.name_en}",
        "department_id": answer.decision.department_id,
        "department": f"{department.name_zh} / {department.name_en}" if department else "",
        "rule": answer.decision.rule_id,
        "rule_version": answer.decision.rule_version,
        "handling_hours": answer.decision.handling_hours,
    }
