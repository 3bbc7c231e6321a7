"""The NATS accounts generator (cityops_tools.natsauth): secrets written
private and kept across runs, a configuration nats-server accepts, and a
policy that matches its promise (own subjects only; devices ingest only) and
the table published in docs/security.md."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import nkeys
import pytest

from cityops_tools import natsauth
from svckit.messaging.subjects import PRODUCERS, durable_name, stream_for
from svckit.natsserver import free_port, nats_server_binary

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_seeds_and_password_are_private_and_survive_a_rerun(tmp_path: Path) -> None:
    conf = natsauth.generate(tmp_path)
    secrets = [*tmp_path.glob("*.nk"), tmp_path / "devices.password", conf]
    assert {p.stem for p in tmp_path.glob("*.nk")} >= {*natsauth.SERVICES, "ops", "gateway"}
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    before = {p.name: p.read_text() for p in secrets}
    natsauth.generate(tmp_path)
    assert {p.name: p.read_text() for p in secrets} == before
    seed = (tmp_path / "intake.nk").read_text().strip().encode()
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    assert public.startswith("U") and public in conf.read_text()


def test_nats_server_accepts_the_accounts(tmp_path: Path) -> None:
    natsauth.generate(tmp_path / "auth")
    conf = tmp_path / "auth" / "server.conf"
    conf.write_text(
        f"port: {free_port()}\nserver_name: t\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        f"mqtt {{ port: {free_port()} }}\ninclude accounts.conf\n"
    )
    result = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize("service", natsauth.SERVICES)
def test_a_service_publishes_only_its_own_events(service: str) -> None:
    grant = natsauth.service_grant(service)
    events = [s for s in grant.publish if s.startswith("cityops.")]
    assert events == ([f"cityops.{service}.>"] if service in PRODUCERS else [])
    assert not [s for s in grant.publish if s in (">", "$JS.API.>", "$JS.>", "_INBOX.>")]
    own_inbox = f"_INBOX.{service}.>"
    expected = {own_inbox, "cityops.>"} if service == "console" else {own_inbox}
    assert set(grant.subscribe) == expected


@pytest.mark.parametrize("service", natsauth.SERVICES)
def test_a_service_may_run_exactly_its_own_durable_consumers(service: str) -> None:
    grant = natsauth.service_grant(service)
    fetches = {s for s in grant.publish if s.startswith("$JS.API.CONSUMER.MSG.NEXT.")}
    expected = {
        f"$JS.API.CONSUMER.MSG.NEXT.{stream_for(p).name}.{durable_name(service, p)}"
        for p in natsauth.CONSUMES[service]
    }
    if service == "detection":
        expected.add(f"$JS.API.CONSUMER.MSG.NEXT.{natsauth.IOT_STREAM}.{natsauth.IOT_DURABLE}")
    assert fetches == expected
    acks = {s for s in grant.publish if s.startswith("$JS.ACK.")}
    assert acks == {s.replace("$JS.API.CONSUMER.MSG.NEXT.", "$JS.ACK.") + ".>" for s in fetches}


def test_devices_may_only_publish_ingest_subjects() -> None:
    devices = [g for g in natsauth.grants() if g.account == natsauth.DEVICES_ACCOUNT]
    assert {g.user for g in devices} == {"gateway", natsauth.DEVICE_USER}
    for grant in devices:
        assert grant.publish == (natsauth.INGEST_SUBJECTS,) and grant.subscribe == ()


def test_the_security_guide_shows_the_generated_table() -> None:
    guide = (DOCS / "security.md").read_text(encoding="utf-8")
    assert natsauth.table(natsauth.grants()) in guide
