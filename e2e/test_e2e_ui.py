"""The whole loop through the console UI, in a real browser.

The whole loop through the console's UI, every service its own process
(cityops_tools.devstack.Stack), in headless Debian Chromium:

  a camera's detection in the review band → a case in TRIAGE →
  the operator files it (立案) → dispatch routes it → the department accepts,
  uploads a before photo and completes with an after photo (反馈) →
  an inspector verifies (核查) → the operator closes (结案) →
  the auditor opens the closed case and verifies its ledger proof.

Screenshots of each screen: e2e/artifacts/test_e2e_ui/*.png.

How the console is logged into: the stack starts the console with
CITYOPS_CONSOLE_SEED_DEMO_USERS=true and CITYOPS_CONSOLE_DEMO_PASSWORD (demo
users operator, supervisor, inspector, auditor, admin and dept-<department id>
per department of config/dispatch/departments.yaml); browsers log in through
the login form, scripts with POST /api/session {"user_id", "password"} and
then send the returned csrf_token as X-CSRF-Token on every POST.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from cityops_tools.browser import chromium, jpeg_photo, log_in, shoot
from cityops_tools.devstack import Ports, Stack
from svckit.testing.polling import eventually

PASSWORD = "e2e-demo-password"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FOLDER = "test_e2e_ui"
# E0105 from a camera at 0.6: between review (0.5) and auto_file (0.75) in
# config/intake/policy.yaml, so intake holds it in TRIAGE for an operator.
DETECTION = {
    "source_id": "cam-0099",
    "source_kind": "video_ai",
    "category_code": "E0105",
    "latitude": 31.252,
    "longitude": 121.503,
    "confidence": 0.6,
    "description": "路面坑洼 (UI e2e)",
}


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("ui-stack")
    ports = Ports.free()
    stack = Stack(
        data_dir=root / "var",
        ports=ports,
        log_format="json",
        log_dir=root / "logs",
        extra_env={
            "CITYOPS_CONSOLE_SEED_DEMO_USERS": "true",
            "CITYOPS_CONSOLE_DEMO_PASSWORD": PASSWORD,
            # Until devstack sets it for the console like the other targets:
            "CITYOPS_CONSOLE_DETECTION_TARGET": ports.grpc_target("detection"),
        },
    )
    try:
        stack.start(timeout=120)
        yield stack
    finally:
        stack.stop()
        target = ARTIFACTS / FOLDER / "logs"
        shutil.rmtree(target, ignore_errors=True)
        if (root / "logs").exists():
            shutil.copytree(root / "logs", target)


async def api_session(base: str, user: str) -> tuple[httpx.AsyncClient, str]:
    """An httpx client logged into the console as `user`, and its CSRF token."""
    http = httpx.AsyncClient(base_url=base, timeout=15)
    reply = await http.post("/api/session", json={"user_id": user, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return http, str(reply.json()["csrf_token"])


async def case_state(http: httpx.AsyncClient, case_id: str) -> str:
    reply = await http.get(f"/api/cases/{case_id}")
    return str(reply.json().get("state", "")) if reply.status_code == 200 else ""


async def wait_state(
    http: httpx.AsyncClient, case_id: str, state: str, timeout: float = 60
) -> None:
    async def reached() -> bool:
        return await case_state(http, case_id) == state

    await eventually(reached, timeout=timeout)


async def click_and_reload(page: Page, selector: str) -> None:
    """Submit an action form; the page reloads when the API accepted it."""
    async with page.expect_navigation(timeout=20_000):
        await page.click(selector)


async def test_the_loop_through_the_console(ui_stack: Stack, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{ui_stack.ports.console_http}"
    folder_shots = FOLDER
    async with httpx.AsyncClient(timeout=15) as ingest:
        reply = await ingest.post(
            f"http://127.0.0.1:{ui_stack.ports.detection_http}/ingest/detections",
            json={
                **DETECTION,
                "source_event_id": f"ui-{datetime.now(UTC).timestamp()}",
                "observed_at": datetime.now(UTC).isoformat(),
            },
        )
        assert reply.status_code == 202, reply.text
        detection_id = reply.json()["detection_id"]
    ops, _ = await api_session(base, "operator")

    async def triage_case() -> dict[str, Any] | None:
        listed = (await ops.get("/api/cases?state=CASE_STATE_TRIAGE&page_size=500")).json()
        found = [c for c in listed.get("cases", []) if detection_id in c.get("detection_ids", [])]
        return found[0] if found else None

    case = await eventually(triage_case, timeout=60)
    case_id = case["case_id"]

    async with chromium() as browser:
        # 1. The operator files (立案) the triage case from its page.
        operator = await log_in(browser, base, "operator", PASSWORD)
        await operator.goto(f"/cases/{case_id}")
        await expect(operator.locator("#case-state")).to_have_attribute(
            "data-state", "CASE_STATE_TRIAGE"
        )
        await shoot(operator, folder_shots, root=ARTIFACTS, name="01-operator-triage")
        await operator.fill('#file-form input[name="note"]', "视频复核确认，立案")
        await click_and_reload(operator, "#file-form button")

        # 2. Dispatch routes it; a work order appears for the department.
        async def order() -> dict[str, Any] | None:
            orders = (await ops.get(f"/api/cases/{case_id}/orders")).json().get("work_orders", [])
            return orders[0] if orders else None

        work_order = await eventually(order, timeout=60)
        department_user = f"dept-{work_order['department_id']}"
        await operator.goto("/")
        await shoot(operator, folder_shots, root=ARTIFACTS, name="02-operations-centre")

        # 3. The department accepts, uploads a before photo, completes with an after photo.
        department = await log_in(browser, base, department_user, PASSWORD)
        await shoot(department, folder_shots, root=ARTIFACTS, name="03-department-inbox")
        await department.goto(f"/orders/{work_order['order_id']}")
        await click_and_reload(department, "#accept-form button")
        await department.select_option(
            '#evidence-form select[name="kind"]', "EVIDENCE_KIND_BEFORE_PHOTO"
        )
        await department.set_input_files(
            '#evidence-form input[type="file"]', str(jpeg_photo(tmp_path, "before.jpg"))
        )
        await click_and_reload(department, "#evidence-form button")
        await department.fill('#complete-form input[name="note"]', "已修补路面")
        await department.set_input_files(
            '#complete-form input[type="file"]', str(jpeg_photo(tmp_path, "after.jpg"))
        )
        await shoot(department, folder_shots, root=ARTIFACTS, name="04-department-complete")
        await click_and_reload(department, "#complete-form button")
        await expect(department.locator("#order-state")).to_have_attribute(
            "data-state", "WORK_ORDER_STATE_COMPLETED"
        )
        await wait_state(ops, case_id, "CASE_STATE_COMPLETED")

        # 4. An inspector verifies (核查); the operator closes (结案).
        inspector = await log_in(browser, base, "inspector", PASSWORD)
        await inspector.goto(f"/cases/{case_id}")
        await shoot(inspector, folder_shots, root=ARTIFACTS, name="05-inspector-verify")
        await inspector.fill('#verify-pass-form input[name="note"]', "现场核查通过")
        await click_and_reload(inspector, "#verify-pass-form button")
        await wait_state(ops, case_id, "CASE_STATE_VERIFIED")
        await operator.goto(f"/cases/{case_id}")
        await click_and_reload(operator, "#close-form button")
        await wait_state(ops, case_id, "CASE_STATE_CLOSED")

        # 5. The auditor opens the closed case and verifies its proof.
        auditor = await log_in(browser, base, "auditor", PASSWORD)

        async def ledger_complete() -> bool:
            await auditor.goto(f"/cases/{case_id}")
            return (
                await auditor.locator('tr[data-event-type="cityops.audit.v1.CaseClosed"]').count()
                > 0
            )

        await eventually(ledger_complete, timeout=60)
        await expect(auditor.locator("#case-state")).to_have_attribute(
            "data-state", "CASE_STATE_CLOSED"
        )
        await auditor.click("#verify-proof")
        await expect(auditor.locator("#proof-result")).to_have_class("proof ok", timeout=20_000)
        await shoot(auditor, folder_shots, root=ARTIFACTS, name="06-auditor-proof")
    await ops.aclose()
