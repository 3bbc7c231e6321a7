"""``who-would-receive --store``: the managed catalogue, with versions changed over gRPC."""

from __future__ import annotations

import asyncio
import json

import pytest

from dispatch.adapters.migrations import VERSIONS as MIGRATIONS
from dispatch.domain import commands
from dispatch.domain.clock import SimulatedClock
from dispatch.domain.reference import ReferenceData
from dispatch.entrypoints.main import main
from dispatch.service_layer import catalogue
from dispatch.service_layer.context import DispatchContext
from dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.dispatch.tests.dispatch_testing import local
from svckit import db, migrations
from svckit.grpc.identity import Caller


async def managed_catalogue(database_url: str, reference: ReferenceData) -> None:
    """The service's store after seeding and one change over the admin API (today 2026-03-02)."""
    engine = db.create_engine(database_url)
    await migrations.upgrade(engine, "dispatch", MIGRATIONS)  # as the service does
    ctx = DispatchContext(reference=reference, clock=SimulatedClock(local(2026, 3, 2, 10)))
    await catalogue.seed_from_file(DispatchUnitOfWork(engine, "dispatch"), ctx)
    rule = {
        "id": "D02-bike-parking-2026",
        "categories": ["E0506"],
        "department": "D02-city_management",
        "districts": ["D02"],
        "precedence": 10,
    }
    await catalogue.upsert_rule(
        commands.UpsertRule("u-1", rule),
        Caller("admin-1", "admin"),
        DispatchUnitOfWork(engine, "dispatch"),
        ctx,
    )
    await engine.dispose()


def test_the_command_line_reads_the_managed_catalogue(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shipped_reference: ReferenceData,
) -> None:
    asyncio.run(managed_catalogue(database_url, shipped_reference))
    capsys.readouterr()  # the set-up's log lines
    monkeypatch.setenv("CITYOPS_DISPATCH_DATABASE_URL", database_url)

    def ask(at: str) -> dict[str, object]:
        with pytest.raises(SystemExit) as exited:
            main(
                [
                    "who-would-receive",
                    "--category",
                    "E0506",
                    "--lat",
                    "31.23",
                    "--lon",
                    "121.45",
                    "--at",
                    at,
                    "--store",
                    "--json",
                ]
            )
        assert exited.value.code == 0
        return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]

    assert (ask("2026-03-02")["department_id"], ask("2026-03-02")["rule_version"]) == (
        "D02-city_management",
        "2",
    )
    assert (ask("2026-02-01")["department_id"], ask("2026-02-01")["rule_version"]) == (
        "D02-transport",
        "1",
    )
