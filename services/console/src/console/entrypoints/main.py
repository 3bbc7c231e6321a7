"""`python -m console`: the web console (http://127.0.0.1:8080), and its
administration commands.

    python -m console [serve] [--seed-demo-users]
    python -m console create-department --id D01-water --name-zh 东湖区水务局 [--name-en ...] [--district D01]
    python -m console create-user --user alice --role operator [--department centre]
                                  [--display-name ...] [--password-file FILE]   (else stdin)
    python -m console seed-demo-users [--password-file FILE]
    python -m console install-assets
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from console.bootstrap import bootstrap
from console.config import ConsoleSettings
from console.entrypoints import cli
from svckit.runtime import configure_process


async def run(settings: ConsoleSettings) -> None:
    process = await bootstrap(settings)
    await process.run()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the console (the default)")
    for target in (p, serve):
        target.add_argument(
            "--seed-demo-users",
            action="store_true",
            help="create the demo users first (idempotent)",
        )
    cli.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = ConsoleSettings()
    if args.command not in (None, "serve"):
        sys.exit(asyncio.run(cli.run_command(args, settings)))
    if args.seed_demo_users:
        settings = settings.model_copy(update={"seed_demo_users": True})
    configure_process("console", settings)
    asyncio.run(run(settings))
