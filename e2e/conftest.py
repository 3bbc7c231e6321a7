"""The whole stack for e2e tests: nats-server and every service as its own
process on free loopback ports, SQLite in a temporary folder (or, for a test
module parametrized with `stack` = "postgresql", one PostgreSQL database per
service on a throwaway cluster), span files per process. Stopped when the
module's tests end, pass or fail."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityops_tools.devstack import SERVICES, Ports, Stack

ARTIFACTS = Path(__file__).parent / "artifacts"
DEMO_PASSWORD = "e2e-demo-password"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    env = {"CITYOPS_CONSOLE_DEMO_PASSWORD": DEMO_PASSWORD}
    store = getattr(request, "param", "sqlite")
    if store == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        for service in SERVICES:
            url = cluster.create_database(f"e2e_{root.name}_{service}".replace("-", "_").lower())
            env[f"CITYOPS_{service.upper()}_DATABASE_URL"] = url
    the_stack = Stack(
        data_dir=root / "var",
        ports=Ports.free(),
        log_format="json",
        span_dir=root / "spans",
        log_dir=root / "logs",
        extra_env=env,
    )
    try:
        the_stack.start(timeout=120)
        yield the_stack
    finally:
        the_stack.stop()
        # Keep logs and spans of the run for whoever reads a failure.
        target = ARTIFACTS / (request.module.__name__.rsplit(".", 1)[-1] + f"-{store}")
        shutil.rmtree(target, ignore_errors=True)
        for sub in ("logs", "spans"):
            if (root / sub).exists():
                shutil.copytree(root / sub, target / sub)
