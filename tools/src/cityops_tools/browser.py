"""Headless Debian Chromium through Playwright (never a downloaded browser),
shared by the console's UI test and the e2e UI draft."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from cityops_tools.photos import field_photo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("CITYOPS_CONSOLE_ARTIFACTS", "services/console/tests/artifacts"))
"""Screenshots go to ARTIFACTS/<folder>/ (the e2e draft passes its own folder under e2e/artifacts)."""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(
    browser: Browser, base_url: str, user: str, password: str, lang: str = "zh-CN"
) -> Page:
    """A fresh browser context logged in through the login form."""
    context = await browser.new_context(
        base_url=base_url, locale=lang, viewport={"width": 1440, "height": 900}
    )
    page = await context.new_page()
    await page.goto(f"/login?lang={lang}")
    await page.fill('input[name="user_id"]', user)
    await page.fill('input[name="password"]', password)
    async with page.expect_navigation():
        await page.click('#login-form button[type="submit"]')
    return page


async def shoot(page: Page, folder: str, name: str, root: Path | None = None) -> Path:
    target = (root or ARTIFACTS) / folder / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target), full_page=True)
    return target


def jpeg_photo(tmp: Path, name: str = "after.jpg") -> Path:
    """A small real JPEG file (a department's 'after' photo) to upload through a form."""
    path = tmp / name
    path.write_bytes(field_photo(color=(90, 140, 60)))
    return path
