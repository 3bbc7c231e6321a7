"""Fixtures shared by the console's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.console.tests.console_testing import ConsoleUnderTest, build_console


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleUnderTest]:
    """A console with a SQLite store and stand-in services (no network)."""
    under_test = await build_console(tmp_path)
    try:
        yield under_test
    finally:
        await under_test.engine.dispose()
