"""The console's composition root: the app wired to the services it reads."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from console.adapters.clients import ServiceClients
from console.config import ConsoleSettings
from console.entrypoints.http_api import create_app


def bootstrap(settings: ConsoleSettings) -> FastAPI:
    app = create_app(lambda: ServiceClients.connect(settings.intake_target, settings.audit_target))
    FastAPIInstrumentor.instrument_app(app)
    return app
