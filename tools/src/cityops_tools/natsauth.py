"""NATS accounts, users and permissions for a hardened deployment.

    python -m cityops_tools.natsauth generate DIR [--evidence-bucket NAME]
    python -m cityops_tools.natsauth table

`generate` writes into DIR:

- `<user>.nk`: one NKey seed per NATS user (mode 0600), mounted into that
  service only (`CITYOPS_NATS_NKEY_SEED_FILE`);
- `devices.password`: the password of the MQTT device user (0600);
- `accounts.conf`: the nats-server `accounts {}` block with every user's
  public key and permissions, for `include` (0600: it holds the device password).

Existing seeds and the password are kept, so running it again after a policy
change only rewrites `accounts.conf`; delete a seed file to rotate that user.
`table` prints the permission table of docs/security.md.

The policy: two accounts. CITYOPS holds the services, one user each. A service
publishes only its own subjects (`cityops.<svc>.>`), touches only the streams
and durable consumers it declares, and subscribes only to its private inbox
(`_INBOX.<svc>.>`, see svckit.messaging.auth). DEVICES holds the detection
sources (MQTT devices, NATS gateways): they may publish `iot.>` and nothing
else, and CITYOPS imports exactly that stream. SYS is the system account.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nkeys

from svckit.messaging.auth import inbox_prefix
from svckit.messaging.subjects import PRODUCERS, durable_name, stream_for

SERVICES_ACCOUNT = "CITYOPS"
DEVICES_ACCOUNT = "DEVICES"
SYSTEM_ACCOUNT = "SYS"
INGEST_SUBJECTS = "iot.>"
DEVICE_USER = "devices"
SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
EVIDENCE_BUCKET = "cityops-evidence"

# Which producers' streams each service consumes (its `runtime.subscribe` calls).
CONSUMES: dict[str, tuple[str, ...]] = {
    "detection": (),
    "intake": ("detection", "dispatch", "workorders", "audit"),
    "dispatch": ("intake", "workorders", "audit"),
    "workorders": ("dispatch", "audit"),
    "audit": PRODUCERS,
    "console": (),
}
# Detection's MQTT telemetry consumer (detection.entrypoints.telemetry_consumer).
IOT_STREAM, IOT_DURABLE = "IOT_TELEMETRY", "detection-iot"


@dataclass(frozen=True)
class Grant:
    """What one NATS user may publish and subscribe to, in one account."""

    user: str
    account: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    purpose: str


def stream_api(stream: str) -> list[str]:
    """Declaring a stream (svckit ensure_stream: info, then create or update)."""
    return [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]


def consumer_api(stream: str, durable: str) -> list[str]:
    """One durable pull consumer: create/update (old and new API forms), info,
    fetch, and acknowledgements of what it delivers."""
    base = "$JS.API.CONSUMER"
    return [
        f"{base}.CREATE.{stream}.{durable}",
        f"{base}.CREATE.{stream}.{durable}.>",
        f"{base}.DURABLE.CREATE.{stream}.{durable}",
        f"{base}.INFO.{stream}.{durable}",
        f"{base}.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def object_store_api(bucket: str) -> list[str]:
    """A JetStream object store bucket (stream OBJ_<bucket>): put, get, delete."""
    stream = f"OBJ_{bucket}"
    return [
        *stream_api(stream),
        f"$JS.API.STREAM.PURGE.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.FC.{stream}.>",
        f"$O.{bucket}.>",
    ]


def service_grant(service: str, *, evidence_bucket: str = EVIDENCE_BUCKET) -> Grant:
    publish: list[str] = []
    subscribe = [f"{inbox_prefix(service)}.>"]
    if service in PRODUCERS:
        own = stream_for(service)
        publish += [*own.subjects, *stream_api(own.name)]
    for producer in CONSUMES[service]:
        stream = stream_for(producer).name
        # Consumers declare the producer's stream too (start order is free).
        publish += [*stream_api(stream), *consumer_api(stream, durable_name(service, producer))]
    if service == "detection":
        publish += [*stream_api(IOT_STREAM), *consumer_api(IOT_STREAM, IOT_DURABLE)]
    if service == "workorders":
        publish += object_store_api(evidence_bucket)
    if service == "console":
        subscribe.append("cityops.>")  # the live feed: core subscription, no replay
    return Grant(
        service, SERVICES_ACCOUNT, _unique(publish), _unique(subscribe), f"the {service} service"
    )


def grants(*, evidence_bucket: str = EVIDENCE_BUCKET) -> list[Grant]:
    """Every user of the deployment, services first."""
    return [
        *(service_grant(s, evidence_bucket=evidence_bucket) for s in SERVICES),
        Grant(
            "ops",
            SERVICES_ACCOUNT,
            ("cityops.>", "$JS.API.>", "$JS.ACK.>", "$O.>", "$JS.SNAPSHOT.>"),
            ("_INBOX.>",),
            "operators: dead-letter replay, stream administration (nats CLI), backup and restore",
        ),
        Grant(
            "gateway",
            DEVICES_ACCOUNT,
            (INGEST_SUBJECTS,),
            (),
            "NATS-protocol device gateways",
        ),
        Grant(
            DEVICE_USER,
            DEVICES_ACCOUNT,
            (INGEST_SUBJECTS,),
            (),
            "MQTT devices (password, MQTT connections only)",
        ),
        Grant("sys", SYSTEM_ACCOUNT, (">",), (">",), "server monitoring (system account)"),
    ]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _permissions(grant: Grant) -> dict[str, object]:
    """Allow-lists; an empty list denies every subject in that direction."""
    return {
        "publish": {"allow": list(grant.publish)} if grant.publish else {"deny": [">"]},
        "subscribe": {"allow": list(grant.subscribe)} if grant.subscribe else {"deny": [">"]},
    }


def accounts_config(
    public_keys: dict[str, str], device_password: str, *, evidence_bucket: str = EVIDENCE_BUCKET
) -> str:
    """The nats-server configuration (JSON, which nats-server reads) for `include`."""
    accounts: dict[str, dict[str, object]] = {
        SERVICES_ACCOUNT: {
            "jetstream": "enabled",
            "users": [],
            "imports": [{"stream": {"account": DEVICES_ACCOUNT, "subject": INGEST_SUBJECTS}}],
        },
        # JetStream holds the MQTT sessions of the devices' connections.
        DEVICES_ACCOUNT: {
            "jetstream": "enabled",
            "users": [],
            "exports": [{"stream": INGEST_SUBJECTS}],
        },
        SYSTEM_ACCOUNT: {"users": []},
    }
    for grant in grants(evidence_bucket=evidence_bucket):
        user: dict[str, object] = (
            {"user": DEVICE_USER, "password": device_password, "allowed_connection_types": ["MQTT"]}
            if grant.user == DEVICE_USER
            else {"nkey": public_keys[grant.user]}
        )
        user["permissions"] = _permissions(grant)
        users = accounts[grant.account]["users"]
        assert isinstance(users, list)
        users.append(user)
    body = json.dumps(accounts, indent=2)
    return (
        "# Generated by `python -m cityops_tools.natsauth generate`; see docs/security.md.\n"
        f"accounts: {body}\n"
        f"system_account: {SYSTEM_ACCOUNT}\n"
    )


def _write_secret(path: Path, content: str) -> None:
    """Created 0600 from the start: a seed is never readable by others, even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content)
    path.chmod(0o600)


def ensure_seed(directory: Path, user: str) -> str:
    """The user's seed file (created if missing); returns its public key."""
    path = directory / f"{user}.nk"
    if not path.exists():
        seed = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER)
        _write_secret(path, seed.decode() + "\n")
    keys = nkeys.from_seed(bytearray(path.read_text(encoding="utf-8").strip().encode()))
    return str(keys.public_key.decode())


def seed_file(directory: Path, user: str) -> Path:
    return directory / f"{user}.nk"


def generate(directory: Path, *, evidence_bucket: str = EVIDENCE_BUCKET) -> Path:
    """Seeds (kept if present), the device password and accounts.conf; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {
        g.user: ensure_seed(directory, g.user)
        for g in grants(evidence_bucket=evidence_bucket)
        if g.user != DEVICE_USER
    }
    password_file = directory / f"{DEVICE_USER}.password"
    if not password_file.exists():
        _write_secret(password_file, secrets.token_urlsafe(24) + "\n")
    password = password_file.read_text(encoding="utf-8").strip()
    conf = directory / "accounts.conf"
    _write_secret(conf, accounts_config(keys, password, evidence_bucket=evidence_bucket))
    return conf


def table(rows: Sequence[Grant]) -> str:
    """Markdown: one row per user."""

    def cell(subjects: Sequence[str]) -> str:
        return "<br>".join(f"`{s}`" for s in subjects) or "nothing"

    lines = [
        "| user | account | may publish | may subscribe | for |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{g.user}` | {g.account} | {cell(g.publish)} | {cell(g.subscribe)} | {g.purpose} |"
        for g in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write seeds and accounts.conf into DIR")
    gen.add_argument("directory", type=Path)
    gen.add_argument("--evidence-bucket", default=EVIDENCE_BUCKET)
    commands.add_parser("table", help="print the permission table (markdown)")
    args = parser.parse_args(argv)
    if args.command == "generate":
        conf = generate(args.directory, evidence_bucket=args.evidence_bucket)
        print(f"wrote {conf} and the seeds beside it (0600)", file=sys.stderr)
    else:
        print(table(grants()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
