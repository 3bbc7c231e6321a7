"""Process entry point: `python -m audit [serve]` runs the service,
`python -m audit verify-ledger [--database-url URL]` checks the ledger."""

from __future__ import annotations

import argparse
import asyncio
import sys

from audit.bootstrap import NAME, bootstrap
from audit.config import AuditSettings
from audit.entrypoints import cli
from svckit.runtime import configure_process


async def run(settings: AuditSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audit", description="CityOps audit service")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    verify = commands.add_parser("verify-ledger", help="recompute the ledger's hash chain")
    verify.add_argument(
        "--database-url",
        default="",
        help="SQLAlchemy async URL (default: the service's own, from the environment)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = AuditSettings()
    if args.command == "verify-ledger":
        url = args.database_url or settings.resolved_database_url(NAME)
        sys.exit(asyncio.run(cli.verify_ledger(url)))
    configure_process(NAME, settings)
    asyncio.run(run(settings))
