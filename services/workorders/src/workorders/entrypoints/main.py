"""Process entrypoint: settings from the environment, then run until signalled."""

from __future__ import annotations

import asyncio

from svckit.runtime import configure_process
from workorders.bootstrap import NAME, bootstrap
from workorders.config import WorkOrdersSettings


async def run(settings: WorkOrdersSettings) -> None:
    runtime = await bootstrap(settings)
    await runtime.run()


def main() -> None:
    settings = WorkOrdersSettings()
    configure_process(NAME, settings)
    asyncio.run(run(settings))
