"""Front-end libraries served by the console itself (never a CDN).

They come from the npm registry: `npm ci --prefix services/console/frontend`
installs them into node_modules; `install_assets` copies the few files the
pages load into the console's static folder (at start-up, or ahead of time
with `python -m console install-assets`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from svckit.logging import get_logger

log = get_logger(__name__)

FRONTEND_DIR = Path(__file__).resolve().parents[3] / "frontend"
STATIC_DIR = Path(__file__).resolve().parents[1] / "entrypoints" / "static"

# Served name → path inside node_modules.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}


def install_assets(frontend_dir: Path = FRONTEND_DIR, static_dir: Path = STATIC_DIR) -> list[str]:
    """Copy the vendor files that are missing or changed; returns the names
    still missing (node_modules not installed)."""
    target = static_dir / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, relative in VENDOR_FILES.items():
        source = frontend_dir / "node_modules" / relative
        dest = target / name
        if not source.is_file():
            if not dest.is_file():
                missing.append(name)
            continue
        if (
            not dest.is_file()
            or dest.stat().st_size != source.stat().st_size
            or dest.stat().st_mtime < source.stat().st_mtime
        ):
            shutil.copy2(source, dest)
    if missing:
        log.warning(
            "front-end libraries missing; run `npm ci --prefix services/console/frontend`",
            missing=missing,
        )
    return missing


def vendor_ready(static_dir: Path = STATIC_DIR) -> bool:
    return all((static_dir / "vendor" / name).is_file() for name in VENDOR_FILES)
