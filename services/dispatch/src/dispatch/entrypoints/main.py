"""``python -m dispatch [serve]`` runs the service; other sub-commands are queries (cli.py)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from dispatch import NAME
from dispatch.bootstrap import bootstrap
from dispatch.config import DispatchSettings
from dispatch.entrypoints import cli
from svckit.runtime import configure_process


async def run(settings: DispatchSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def serve() -> None:
    settings = DispatchSettings()
    configure_process(NAME, settings)
    asyncio.run(run(settings))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dispatch", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the dispatch service (the default)")
    cli.add_who_would_receive(commands)
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        serve()
        return
    raise SystemExit(cli.who_would_receive(args))
