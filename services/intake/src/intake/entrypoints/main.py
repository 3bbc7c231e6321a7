"""The process: `python -m intake`."""

from __future__ import annotations

import asyncio

from intake.bootstrap import NAME, bootstrap
from intake.config import IntakeSettings
from svckit.runtime import configure_process


async def run(settings: IntakeSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def main() -> None:
    settings = IntakeSettings()
    configure_process(NAME, settings)
    asyncio.run(run(settings))
