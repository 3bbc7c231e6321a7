"""The 权责清单 managed over gRPC: versions, validation naming rules, and the what-if question."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest

from cityops.dispatch.v1 import dispatch_service_pb2 as pb
from services.dispatch.tests.component.dispatch_component import Start
from services.dispatch.tests.dispatch_testing import IN_D02, stamp

ADMIN = (("x-cityops-user", "admin-1"), ("x-cityops-role", "admin"))
OPERATOR = (("x-cityops-user", "op-1"), ("x-cityops-role", "operator"))


def bikes(**fields: object) -> pb.ResponsibilityRule:
    base: dict[str, object] = {
        "rule_id": "D02-bike-parking-2026",
        "category_codes": ["E0506"],
        "department_id": "D02-city_management",
        "district_codes": ["D02"],
        "precedence": 10,
        "deadlines": [pb.StageHours(stage=pb.STAGE_DISPOSAL, hours=6)],
    }
    return pb.ResponsibilityRule(**(base | fields))  # type: ignore[arg-type]


async def ask(stub: object, at: datetime | None = None) -> pb.WhoWouldReceiveResponse:
    request = pb.WhoWouldReceiveRequest(category_code="E0506", point=IN_D02)
    if at is not None:
        request.at.CopyFrom(stamp(at))
    return await stub.WhoWouldReceive(request)  # type: ignore[attr-defined, no-any-return]


async def refused(call: object, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call  # type: ignore[misc]
    assert failed.value.code() == code, failed.value.details()
    return failed.value.details() or ""


async def test_a_new_rule_version_applies_from_today_and_the_past_keeps_its_answer(
    start_dispatch: Start,
) -> None:
    running = await start_dispatch()
    stub = running.stub
    upsert = pb.UpsertRuleRequest(request_id="u-1", rule=bikes())
    details = await refused(
        stub.UpsertRule(upsert, metadata=OPERATOR), grpc.StatusCode.PERMISSION_DENIED
    )
    assert "admin or supervisor" in details
    changed = await stub.UpsertRule(upsert, metadata=ADMIN)
    assert (changed.rule.version, changed.rule.in_force_from, changed.rule.source) == (
        2,
        "2026-03-02",
        "grpc",
    )
    assert (await stub.UpsertRule(upsert, metadata=ADMIN)) == changed  # retried: same answer

    now = await ask(stub)
    assert (now.department_id, now.rule_id, now.rule_version, now.handling_hours) == (
        "D02-city_management",
        "D02-bike-parking-2026",
        "2",
        6,
    )
    february = await ask(stub, datetime(2026, 2, 1, tzinfo=UTC))
    assert (february.department_id, february.rule_version) == ("D02-transport", "1")
    last_year = await ask(stub, datetime(2025, 6, 1, tzinfo=UTC))
    assert (last_year.department_id, last_year.rule_id) == (
        "D02-street_office",
        "street_office-default",
    )

    history = await stub.ListRules(
        pb.ListRulesRequest(rule_id="D02-bike-parking-2026", include_history=True)
    )
    assert [(r.version, r.in_force_from, r.in_force_to) for r in history.rules] == [
        (1, "2026-01-01", "2026-03-02"),
        (2, "2026-03-02", ""),
    ]
    latest = await stub.ListRules(pb.ListRulesRequest())
    assert len(latest.rules) == 12 and all(r.version >= 1 for r in latest.rules)

    # A restart keeps the managed version; the unchanged file imports nothing.
    await running.stop()
    again = await start_dispatch()
    assert (await ask(again.stub)).rule_version == "2"


async def test_changes_that_would_make_the_catalogue_invalid_are_refused_naming_the_rules(
    start_dispatch: Start,
) -> None:
    stub = (await start_dispatch()).stub
    duplicate = bikes(rule_id="bikes-by-street-office", department_id="D02-street_office")
    details = await refused(
        stub.UpsertRule(pb.UpsertRuleRequest(request_id="u-2", rule=duplicate), metadata=ADMIN),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "rules D02-bike-parking-2026 and bikes-by-street-office overlap" in details
    assert "both cover E0506 in D02 from 2026-03-02" in details

    past = bikes(effective_from="2026-01-15")
    details = await refused(
        stub.UpsertRule(pb.UpsertRuleRequest(request_id="u-3", rule=past), metadata=ADMIN),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "before today (2026-03-02)" in details

    details = await refused(
        stub.RetireRule(
            pb.RetireRuleRequest(request_id="r-1", rule_id="street_office-default"), metadata=ADMIN
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "when rule street_office-default ends" in details and "from 2026-03-02" in details
    await refused(
        stub.RetireRule(pb.RetireRuleRequest(request_id="r-2", rule_id="nope"), metadata=ADMIN),
        grpc.StatusCode.NOT_FOUND,
    )
    retired = await stub.RetireRule(
        pb.RetireRuleRequest(
            request_id="r-3", rule_id="D02-bike-parking-2026", effective_to="2026-04-01"
        ),
        metadata=ADMIN,
    )
    assert retired.rule.retired and retired.rule.version == 2
    after = await ask(stub, datetime(2026, 4, 2, tzinfo=UTC))
    assert after.rule_id == "street_office-default"
    assert (await ask(stub)).rule_id == "D02-bike-parking-2026"
