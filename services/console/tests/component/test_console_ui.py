"""The console in a real browser (Debian Chromium, headless) against stand-in
services: log in, the operations centre's map and queue, triage, a
department's accept and complete with a photo, an auditor's proof check,
and the language switch. Screenshots go to tests/artifacts/ui/."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from cityops_tools.browser import chromium, jpeg_photo, log_in, shoot
from console.adapters.assets import STATIC_DIR, vendor_ready
from services.console.tests.component.test_console_service import DEMO_PASSWORD, Running
from services.console.tests.component.test_console_service import running as running

FOLDER = "ui"


async def test_people_work_the_console_in_a_browser(running: Running, tmp_path: Path) -> None:
    assert vendor_ready(STATIC_DIR), (
        "run `npm ci --prefix services/console/frontend` (front-end libraries)"
    )
    world = running.world
    async with chromium() as browser:
        # The operator: the operations centre with its map, then triage.
        operator = await log_in(browser, running.url, "operator", DEMO_PASSWORD)
        assert operator.url.endswith("/")
        await expect(operator.locator("#map")).to_have_attribute(
            "data-markers", "2", timeout=15_000
        )
        await expect(operator.locator('#queue tr[data-case-id="case-1"]')).to_be_visible()
        await shoot(operator, FOLDER, "01-operations-centre")
        await operator.click('#queue a[href="/cases/case-1"]')
        await expect(operator.locator("#file-form")).to_be_visible()
        await shoot(operator, FOLDER, "02-case-triage")
        await operator.fill('#file-form input[name="note"]', "现场视频确认")
        await operator.click("#file-form button")
        await expect(operator.locator("#case-state")).to_have_attribute(
            "data-state", "CASE_STATE_FILED", timeout=10_000
        )
        [filed] = world.calls_to("FileCase")
        assert (filed.user, filed.request.note) == ("operator", "现场视频确认")

        # The department: accept, then complete with a photo.
        department = await log_in(browser, running.url, "dept-D01-transport", DEMO_PASSWORD)
        assert department.url.endswith("/orders")
        await expect(department.locator('tr[data-order-id="order-a"] .countdown')).to_have_class(
            "countdown overdue"
        )
        await shoot(department, FOLDER, "03-department-inbox")
        await department.click('a[href="/orders/order-a"]')
        await department.click("#accept-form button")
        await expect(department.locator("#order-state")).to_have_attribute(
            "data-state", "WORK_ORDER_STATE_ACCEPTED", timeout=10_000
        )
        await department.fill('#complete-form input[name="note"]', "已修复路面")
        await department.set_input_files(
            '#complete-form input[type="file"]', str(jpeg_photo(tmp_path))
        )
        await shoot(department, FOLDER, "04-order-complete")
        await department.click("#complete-form button")
        await expect(department.locator("#order-state")).to_have_attribute(
            "data-state", "WORK_ORDER_STATE_COMPLETED", timeout=10_000
        )
        [upload] = world.calls_to("UploadEvidence")
        assert (
            upload.request.content[:3] == b"\xff\xd8\xff" and upload.department == "D01-transport"
        )
        assert world.calls_to("CompleteWorkOrder")[0].request.note == "已修复路面"
        await expect(department.locator(".evidence img")).to_have_count(1)

        # The auditor: a closed case's proof, checked in the browser.
        auditor = await log_in(browser, running.url, "auditor", DEMO_PASSWORD)
        assert auditor.url.endswith("/audit")
        await auditor.goto("/cases/case-2")
        await auditor.click("#verify-proof")
        await expect(auditor.locator("#proof-result")).to_have_class("proof ok", timeout=10_000)
        await expect(auditor.locator("#proof-result")).to_contain_text("证明校验通过")
        await shoot(auditor, FOLDER, "05-auditor-proof")
        await auditor.goto("/audit/evaluation")
        await expect(auditor.locator("#evaluation-rows")).to_contain_text(
            "D01-transport", timeout=10_000
        )
        await shoot(auditor, FOLDER, "06-evaluation")

        # English on request, and the choice sticks.
        await auditor.click('a[lang="en"]')
        await expect(auditor.locator("html")).to_have_attribute("lang", "en")
        await auditor.goto("/cases/case-2")
        await expect(auditor.locator("#case-state")).to_have_text("Closed")
        await shoot(auditor, FOLDER, "07-case-english")

        # A wall display: the same centre, large and without controls.
        wall = await browser.new_context(
            base_url=running.url, viewport={"width": 2560, "height": 1440}
        )
        await wall.add_cookies(await operator.context.cookies())
        screen = await wall.new_page()
        await screen.goto("/?wall=1")
        await expect(screen.locator("#map")).to_have_attribute("data-markers", "2", timeout=15_000)
        await shoot(screen, FOLDER, "08-wall-display")
