"""Fixtures shared by the console's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.console.tests.console_testing import ConsoleUnderTest, build_console


@pytest.fixture
async def console(database_url: str) -> AsyncIterator[ConsoleUnderTest]:
    """A console with a SQLite or PostgreSQL store (each test using it runs on
    both) and stand-in services (no network)."""
    under_test = await build_console(database_url)
    try:
        yield under_test
    finally:
        await under_test.engine.dispose()
