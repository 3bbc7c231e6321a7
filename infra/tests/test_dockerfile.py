"""The image the manifests run: built the way they assume (non-root uid
10001, read-only root filesystem, front-end installed at build time, locked
dependencies), and a build context that cannot carry local state or secrets.
No Docker daemon is needed: these read the files the build reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            verb, _, rest = line.partition(" ")
            found.append((verb.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (verb, _) in enumerate(steps) if verb == "FROM")
    return steps[last_from:]


def test_every_base_image_is_pinned_to_a_version() -> None:
    images = [args.split()[0] for verb, args in instructions() if verb == "FROM"]
    images += [
        m.group(1)
        for _, args in instructions()
        for m in [re.search(r"--from=(\S+:\S+)", args)]
        if m
    ]
    assert images
    for image in images:
        tag = image.partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d", tag), image


def test_the_final_image_runs_as_the_uid_the_manifests_expect() -> None:
    stage = final_stage()
    users = [args for verb, args in stage if verb == "USER"]
    assert users == ["10001:10001"]
    manifests = [
        doc
        for path in sorted((ROOT / "infra" / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc.get("kind") == "Deployment"
    ]
    cityops = [
        d
        for d in manifests
        if "cityops/cityops" in str(d["spec"]["template"]["spec"]["containers"])
    ]
    assert len(cityops) == 6
    for deployment in cityops:
        pod = deployment["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"]) == (10001, 10001)


def test_dependencies_come_from_the_lock_without_dev_tools() -> None:
    runs = [args for verb, args in instructions() if verb == "RUN" and "uv sync" in args]
    assert runs and all("--frozen" in r and "--no-dev" in r for r in runs)
    copied = " ".join(args for verb, args in instructions() if verb == "COPY")
    assert "uv.lock" in copied


def test_the_console_assets_are_installed_at_build_time_not_at_start() -> None:
    steps = instructions()
    npm = [args for verb, args in steps if verb == "RUN" and "npm ci" in args]
    assets = [args for verb, args in steps if verb == "RUN" and "install-assets" in args]
    assert npm and assets
    assert "--ignore-scripts" in npm[0]  # no package runs code at build
    env = " ".join(args for verb, args in final_stage() if verb == "ENV")
    assert "CITYOPS_CONFIG_DIR=/app/config" in env and "CITYOPS_DATA_DIR=/var/lib/cityops" in env


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    for pattern in (".git", ".venv", "var", "**/node_modules", "**/*.seed", "**/*.key"):
        assert pattern in ignored, pattern


def test_compose_builds_the_services_from_this_dockerfile() -> None:
    compose = yaml.safe_load((ROOT / "infra" / "compose" / "docker-compose.yml").read_text())
    build = compose["x-cityops-service"]["build"]
    assert (
        ROOT / "infra" / "compose" / build["context"] / build["dockerfile"]
    ).resolve() == DOCKERFILE
