"""Fixtures shared by detection's tests: the reference data and source
configuration the service ships with, and the sample payloads under fixtures/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from detection.bootstrap import DetectionRuntime, Reference, bootstrap, load_reference
from detection.config import DetectionSettings
from detection.domain.rules import IngestPolicy
from svckit.testing.polling import eventually

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def reference() -> Reference:
    """Catalogue, city, vendor maps, cameras and IoT rules from config/."""
    return load_reference(DetectionSettings())


@pytest.fixture(scope="session")
def policy(reference: Reference) -> IngestPolicy:
    """The ingest rules the service ships with (catalogue, city, 5 min clock skew)."""
    return reference.policy


@pytest.fixture(scope="session")
def fixture_bytes() -> Callable[[str], bytes]:
    """A sample payload's bytes, by file name."""
    return lambda name: (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def fixture_json() -> Callable[[str], Any]:
    """A sample JSON payload, parsed (a fresh copy per call, free to mutate)."""
    return lambda name: json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@asynccontextmanager
async def _running(settings: DetectionSettings) -> AsyncIterator[DetectionRuntime]:
    runtime = await bootstrap(settings)
    task = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: runtime.http.started or task.done(), timeout=10, every=0.02)
        assert not task.done(), task
        yield runtime
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 20)


Running = Callable[[DetectionSettings], AbstractAsyncContextManager[DetectionRuntime]]


@pytest.fixture
def run_detection() -> Running:
    """`async with run_detection(settings) as runtime:` the whole service in-process."""
    return _running
