"""The console's composition root: its store, its NATS ear, the service
stubs, the identity provider and sessions, and the HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from console.adapters import reference
from console.adapters.assets import FRONTEND_DIR, STATIC_DIR, install_assets
from console.adapters.clients import ServiceClients
from console.adapters.i18n import Catalogues
from console.adapters.live_feed import NatsLiveFeed
from console.adapters.migrations import VERSIONS as MIGRATIONS
from console.adapters.passwords import Passwords
from console.config import ConsoleSettings
from console.domain.ratelimit import LoginLimits
from console.domain.sessions import SessionPolicy
from console.entrypoints.http_api import create_app
from console.entrypoints.web.deps import WebApp, WebOptions
from console.service_layer.accounts import list_departments, seed_demo_users
from console.service_layer.context import Console, Options
from console.service_layer.identity import LocalIdentityProvider
from console.service_layer.live import LiveHub
from console.service_layer.sessions import SessionManager
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from console.service_layer.views import Reference
from svckit.http_server import HttpServer
from svckit.logging import get_logger
from svckit.runtime import ServiceRuntime

log = get_logger(__name__)
NAME = "console"


@dataclass
class ConsoleProcess:
    runtime: ServiceRuntime[ConsoleUnitOfWork]
    http: HttpServer
    web: WebApp

    async def run(self) -> None:
        await self.runtime.run()


def options_of(settings: ConsoleSettings) -> Options:
    return Options(
        at_risk_seconds=int(settings.at_risk_hours * 3600),
        trace_url_template=settings.trace_url_template,
        case_scan_limit=settings.case_scan_limit,
        trusted_key_ids=tuple(settings.audit_trusted_key_ids),
        max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
    )


def static_dir_of(settings: ConsoleSettings) -> Path:
    return settings.static_dir or STATIC_DIR


async def seed(
    settings: ConsoleSettings, uow: Callable[[], ConsoleUnitOfWork], passwords: Passwords
) -> None:
    departments = [*reference.CENTRE_UNITS, *reference.load_departments(settings.config_dir)]
    result = await seed_demo_users(uow, passwords, departments, settings.demo_password)
    if result.created:
        shown = "(as configured)" if settings.demo_password else result.password
        print(
            f"console: created demo users {', '.join(result.created)}; password: {shown}",
            flush=True,
        )
    log.info("demo users", created=len(result.created), existing=len(result.existing))


async def bootstrap(
    settings: ConsoleSettings, clients: ServiceClients | None = None
) -> ConsoleProcess:
    """Everything wired; `clients` replaces the real service stubs in tests."""
    runtime: ServiceRuntime[ConsoleUnitOfWork] = ServiceRuntime(
        NAME, settings, ConsoleUnitOfWork, migrations=MIGRATIONS
    )
    await runtime.start_infrastructure()
    passwords = Passwords()
    if settings.seed_demo_users:
        await seed(settings, runtime.uow, passwords)
    install_assets(settings.frontend_dir or FRONTEND_DIR, static_dir_of(settings))

    stubs = clients or ServiceClients.connect(
        intake=settings.intake_target,
        dispatch=settings.dispatch_target,
        workorders=settings.workorders_target,
        audit=settings.audit_target,
        detection=settings.detection_target,
        deadline_seconds=settings.grpc_deadline_seconds,
    )
    departments = {d.department_id: d for d in reference.load_departments(settings.config_dir)}
    for dept in [*reference.CENTRE_UNITS, *await list_departments(runtime.uow())]:
        departments.setdefault(dept.department_id, dept)
    ref = Reference(
        reference.load_catalogue(settings.config_dir),
        reference.load_city_map(settings.config_dir),
        departments,
    )
    hub = LiveHub()
    web = WebApp(
        console=Console(stubs, ref, options_of(settings)),
        sessions=SessionManager(
            runtime.uow,
            SessionPolicy(
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(hours=settings.session_absolute_hours),
            ),
        ),
        identity=LocalIdentityProvider(
            runtime.uow,
            passwords,
            LoginLimits(
                per_user=settings.login_failures_per_user,
                per_ip=settings.login_failures_per_ip,
                window=timedelta(minutes=settings.login_window_minutes),
            ),
        ),
        uow=runtime.uow,
        hub=hub,
        catalogues=Catalogues(),
        passwords=passwords,
        options=WebOptions(
            cookie_secure=settings.cookie_secure,
            trust_forwarded_for=settings.trust_forwarded_for,
            open311_api_keys=dict(settings.open311_api_keys),
            open311_require_api_key=settings.open311_require_api_key,
            city_geojson=reference.city_geojson_path(settings.config_dir),
            heartbeat_seconds=settings.sse_heartbeat_seconds,
        ),
    )
    app = create_app(web, static_dir_of(settings))
    FastAPIInstrumentor.instrument_app(app)
    http = HttpServer(app, settings.http_host, settings.http_port)
    feed = NatsLiveFeed(runtime.nc, hub.publish)

    async def nothing() -> None:
        return None

    async def stop_http() -> None:
        hub.close()  # ends every SSE stream, so the server stops promptly
        await http.stop()

    runtime.add_component(nothing, stubs.close)  # stopped last
    runtime.add_component(feed.start, feed.stop)
    runtime.add_component(http.start, stop_http)
    return ConsoleProcess(runtime, http, web)
