"""`python -m console`: the web console on http://127.0.0.1:8080."""

from __future__ import annotations

import uvicorn

from console.bootstrap import bootstrap
from console.config import ConsoleSettings
from svckit.metrics import MetricsServer
from svckit.runtime import configure_process


def main() -> None:
    settings = ConsoleSettings()
    configure_process("console", settings)
    if settings.metrics_port is not None:
        MetricsServer(settings.metrics_port)
    uvicorn.run(
        bootstrap(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
