"""`python -m console`: the web console on http://127.0.0.1:8080."""

from __future__ import annotations

import uvicorn
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from console.adapters.clients import ServiceClients
from console.config import ConsoleSettings
from console.entrypoints.http_api import create_app
from svckit.runtime import configure_process


def main() -> None:
    settings = ConsoleSettings()
    configure_process("console", settings)
    app = create_app(lambda: ServiceClients.connect(settings.intake_target, settings.audit_target))
    FastAPIInstrumentor.instrument_app(app)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
