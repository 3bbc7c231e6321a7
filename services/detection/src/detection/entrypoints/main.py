"""Process entry point: `python -m detection`."""

from __future__ import annotations

import asyncio

from detection.bootstrap import bootstrap
from detection.config import NAME, DetectionSettings
from svckit.runtime import configure_process


async def run(settings: DetectionSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def main() -> None:
    settings = DetectionSettings()
    configure_process(NAME, settings)
    asyncio.run(run(settings))
