"""Process entry point: `python -m audit [serve]` runs the service;
`python -m audit verify-ledger` checks the ledger and
`python -m audit dossier CASE_ID --format html|json` prints a dossier."""

from __future__ import annotations

import argparse
import asyncio
import sys

from audit.adapters.signing import TrustedKeys, dev_public_key, load_signer, parse_public_keys
from audit.bootstrap import NAME, bootstrap
from audit.config import AuditSettings
from audit.entrypoints import cli
from svckit.logging import configure_logging
from svckit.runtime import configure_process


async def run(settings: AuditSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audit", description="CityOps audit service")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    verify = commands.add_parser(
        "verify-ledger", help="recompute the ledger: entries, chain, Merkle tree, tree heads"
    )
    dossier = commands.add_parser("dossier", help="print a case's dossier with its proofs")
    dossier.add_argument("case_id")
    dossier.add_argument("--format", choices=("html", "json"), default="html")
    for command in (verify, dossier):
        command.add_argument(
            "--database-url",
            default="",
            help="SQLAlchemy async URL (default: the service's own, from the environment)",
        )
        command.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="base64 Ed25519 public key to trust for tree heads (repeatable); default: "
            "the configured signing key's, CITYOPS_AUDIT_TRUSTED_PUBLIC_KEYS, the dev key",
        )
    return parser.parse_args(argv)


def trusted_keys(settings: AuditSettings, given: list[str]) -> TrustedKeys:
    """Keys named on the command line; else the configured ones. Only public
    halves are used: an auditor's copy of the database needs no private key."""
    if given:
        return TrustedKeys(parse_public_keys(",".join(given)))
    keys = parse_public_keys(settings.trusted_public_keys)
    seed = settings.signing_key_seed.get_secret_value()
    if settings.signing_key_file is not None or seed:
        keys.append(load_signer(settings.signing_key_file, seed, settings.data_dir).public_key)
    elif (dev := dev_public_key(settings.data_dir)) is not None:
        keys.append(dev)
    return TrustedKeys(keys)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = AuditSettings()
    if args.command in ("verify-ledger", "dossier"):
        # Logs to stderr: stdout carries the result (a dossier may be piped to a file).
        configure_logging(NAME, settings.log_level, settings.log_format)
        url = args.database_url or settings.resolved_database_url(NAME)
        trusted = trusted_keys(settings, args.public_key)
        if args.command == "verify-ledger":
            sys.exit(asyncio.run(cli.verify_ledger(url, trusted)))
        sys.exit(asyncio.run(cli.dossier(url, args.case_id, args.format, trusted)))
    configure_process(NAME, settings)
    asyncio.run(run(settings))
