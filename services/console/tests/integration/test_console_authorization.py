"""Who may do what, through the HTTP app: every state-changing endpoint is
refused without CSRF and to auditors; departments see only their own orders."""

from __future__ import annotations

import re
from typing import Any

import pytest

from console.entrypoints.http_api import CSRF_EXEMPT
from console.entrypoints.http_api import unsafe_routes as all_unsafe_routes
from services.console.tests.console_testing import ConsoleUnderTest, login

SAMPLE_PATH_VALUES = {
    "case_id": "case-1",
    "order_id": "order-a",
    "extension_id": "ext-1",
    "evidence_id": "ev-1",
    "sequence": "1",
    "user_id": "operator",
    "service": "dispatch",
}
# A body each endpoint accepts, so a refusal is about who asks, not what they sent.
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "/reject": {"reason": "REJECT_REASON_FALSE_ALARM"},
    "/merge": {"duplicate_of": "case-2"},
    "/reclassify": {"category_code": "E0101"},
    "/urgency": {"urgency": "URGENCY_IMMEDIATE"},
    "/dispatch": {"department_id": "D01-transport"},
    "/arbitrate": {"outcome": "ARBITRATION_OUTCOME_TERRITORIAL"},
    "/decision": {"approve": True},
    "/backlog": {"reason": "no budget this year"},
    "/resume": {"note": "budget approved"},
    "/verify": {"passed": True},
    "/return": {"reason": "RETURN_REASON_OTHER", "note": "not ours"},
    "/progress": {"note": "digging"},
    "/extension": {"hours": 8, "reason": "parts on order"},
    "/users": {"user_id": "mallory", "role": "admin", "password": "0123456789ab"},
    "/departments": {"department_id": "X01", "name_zh": "某单位"},
    "/password": {"password": "0123456789ab"},
    "/operator": {"active": False},
    "/replay": {"all": True},
}


def unsafe_routes(console: ConsoleUnderTest) -> list[tuple[str, str]]:
    """What the app serves (checked against its OpenAPI spec), minus the exempt logins."""
    served = {
        (method.upper(), path)
        for path, item in console.app.openapi()["paths"].items()
        for method in item
    }
    routes = [(m, p) for m, p, _ in all_unsafe_routes() if (p, m) not in CSRF_EXEMPT]
    documented = {(m, p) for m, p in routes if not p.startswith(("/login", "/logout"))}
    assert documented <= served
    return routes


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], path)


async def send(http: Any, method: str, path: str, csrf: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    url = concrete(path)
    if url.endswith("/evidence"):
        files = {"file": ("after.jpg", b"\xff\xd8\xff jpeg", "image/jpeg")}
        return await http.request(method, url, files=files, headers=headers)
    body = next((b for suffix, b in SAMPLE_BODIES.items() if url.endswith(suffix)), {})
    return await http.request(method, url, json=body, headers=headers)


def test_every_state_changing_route_is_known(console: ConsoleUnderTest) -> None:
    """The lists below cover the app: a new endpoint must be added to them."""
    routes = unsafe_routes(console)
    assert len(routes) >= 20
    assert ("POST", "/api/cases/{case_id}/file") in routes
    assert ("DELETE", "/api/session") in routes


async def test_no_state_change_without_csrf_for_any_route(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "supervisor")
        for method, path in unsafe_routes(console):
            reply = await send(http, method, path, csrf=None)
            assert reply.status_code == 403, (method, path, reply.text)
    assert console.world.mutations() == []


async def test_unauthenticated_state_changes_are_refused_everywhere(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        for method, path in unsafe_routes(console):
            reply = await send(http, method, path, csrf="anything")
            assert reply.status_code in (401, 303), (method, path, reply.status_code)
    assert console.world.calls == []


async def test_an_auditor_cannot_change_anything(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "auditor")
        for method, path in unsafe_routes(console):
            if path == "/api/session" or path == "/logout":
                continue  # logging oneself out is not a change to the city's records
            reply = await send(http, method, path, csrf)
            assert reply.status_code in (403, 404), (method, path, reply.status_code, reply.text)
        # ... while reading everything.
        assert (await http.get("/api/cases")).status_code == 200
        assert (await http.get("/api/orders")).status_code == 200
        assert (await http.get("/api/cases/case-2/timeline")).status_code == 200
        assert (await http.get("/cases/case-2")).status_code == 200
    assert console.world.mutations() == []


async def test_a_department_user_cannot_open_another_departments_order(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        csrf = await login(http, "transport")
        assert (await http.get("/api/orders/order-a")).status_code == 200
        assert (await http.get("/api/orders/order-b")).status_code == 404
        assert (await http.get("/orders/order-b")).status_code == 404
        accept = await http.post(
            "/api/orders/order-b/accept", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert accept.status_code == 404
        upload = await http.post(
            "/api/orders/order-b/evidence",
            files={"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")},
            headers={"X-CSRF-Token": csrf},
        )
        assert upload.status_code == 404
        assert (await http.get("/api/orders/order-b/evidence/ev-1")).status_code == 404
        listed = (await http.get("/api/orders")).json()["work_orders"]
        assert [o["order_id"] for o in listed] == ["order-a"]
        # Cases: only those it holds an order for.
        assert (await http.get("/api/cases/case-3")).status_code == 200
        assert (await http.get("/api/cases/case-2")).status_code == 404
        assert (await http.get("/cases/case-2")).status_code == 404
        assert (await http.get("/api/cases")).status_code == 403
    assert console.world.calls_to("AcceptWorkOrder") == []
    assert console.world.calls_to("UploadEvidence") == []


async def test_department_users_act_on_their_own_orders_as_themselves(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        csrf = await login(http, "transport")
        reply = await http.post(
            "/api/orders/order-a/accept", json={"request_id": "r-1"}, headers={"X-CSRF-Token": csrf}
        )
        assert (
            reply.status_code == 200
            and reply.json()["work_order"]["state"] == "WORK_ORDER_STATE_ACCEPTED"
        )
    [call] = console.world.calls_to("AcceptWorkOrder")
    assert (call.user, call.role, call.department) == (
        "transport",
        "department_user",
        "D01-transport",
    )
    assert call.request.request_id == "r-1"


@pytest.mark.parametrize(
    ("user", "path", "body"),
    [
        ("operator", "/api/extensions/ext-1/decision", {"approve": True}),
        ("operator", "/api/cases/case-1/arbitrate", {"outcome": "ARBITRATION_OUTCOME_TERRITORIAL"}),
        ("inspector", "/api/cases/case-1/file", {}),
        ("transport", "/api/cases/case-1/verify", {"passed": True}),
        ("admin", "/api/cases/case-1/close", {}),
        (
            "supervisor",
            "/api/admin/users",
            {"user_id": "x1", "role": "admin", "password": "0123456789ab"},
        ),
    ],
)
async def test_roles_are_refused_what_they_may_not_do(
    console: ConsoleUnderTest, user: str, path: str, body: dict[str, Any]
) -> None:
    async with console.client() as http:
        csrf = await login(http, user)
        reply = await http.post(path, json=body, headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 403, reply.text
    assert console.world.mutations() == []


async def test_bad_input_is_a_4xx_with_a_reason_and_nothing_is_called(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        csrf = await login(http, "operator")
        headers = {"X-CSRF-Token": csrf}
        bad_reason = await http.post(
            "/api/cases/case-1/reject", json={"reason": "BOGUS"}, headers=headers
        )
        assert bad_reason.status_code == 400 and "reject reason" in bad_reason.json()["detail"]
        bad_category = await http.post(
            "/api/cases/case-1/reclassify", json={"category_code": "Z9999"}, headers=headers
        )
        assert bad_category.status_code == 400
        assert (await http.get("/api/cases?state=BOGUS")).status_code == 400
        missing = await http.post("/api/cases/case-1/merge", json={}, headers=headers)
        assert missing.status_code == 422
    assert console.world.mutations() == []


async def test_service_refusals_map_to_http_status(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "operator")
        unknown = await http.get("/api/cases/nope")
        assert unknown.status_code == 404 and unknown.json() == {"detail": "case nope not found"}
        # An RPC the service does not implement yet is 501, said plainly.
        csrf = (await http.get("/api/session")).json()["csrf_token"]
        console.world_stub = None
        console.web.console.clients.intake.handlers.pop("SetUrgency")
        reply = await http.post(
            "/api/cases/case-1/urgency",
            json={"urgency": "URGENCY_IMMEDIATE"},
            headers={"X-CSRF-Token": csrf},
        )
        assert reply.status_code == 501 and "not available yet" in reply.json()["detail"]
