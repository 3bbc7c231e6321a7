"""Reading the source configuration from `config/`: vendor maps, the camera
registry, IoT rules and devices. Validation is the domain's; this module only
finds and parses the YAML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from detection.domain.iot import IotConfig, iot_config
from detection.domain.vendors import (
    CameraRegistry,
    SourceConfig,
    VendorConfigError,
    camera_registry,
    vendor_map,
)
from svckit.reference import Catalogue, CityMap

CAMERAS_FILE = "cameras.yaml"


def load_sources(config_dir: Path, catalogue: Catalogue, city: CityMap) -> SourceConfig:
    """Every `config/vendors/<vendor>.yaml` (the file's stem must be its vendor name)
    and `config/vendors/cameras.yaml`; a missing folder means no vendors."""
    folder = config_dir / "vendors"
    vendors = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == CAMERAS_FILE:
            continue
        parsed = vendor_map(_read(path), source=str(path), catalogue=catalogue, city=city)
        if parsed.vendor != path.stem:
            raise VendorConfigError(
                str(path), [f"vendor {parsed.vendor!r} must match the file name"]
            )
        vendors[parsed.vendor] = parsed
    cameras_path = folder / CAMERAS_FILE
    cameras = (
        camera_registry(_read(cameras_path), source=str(cameras_path), city=city)
        if cameras_path.exists()
        else CameraRegistry()
    )
    return SourceConfig(vendors, cameras)


def load_iot(config_dir: Path, catalogue: Catalogue, city: CityMap) -> IotConfig:
    """`config/iot/rules.yaml` and `config/iot/devices.yaml`; missing files mean no IoT devices."""
    rules_path, devices_path = (
        config_dir / "iot" / "rules.yaml",
        config_dir / "iot" / "devices.yaml",
    )
    if not rules_path.exists():
        return IotConfig()
    devices = _read(devices_path) if devices_path.exists() else {"devices": []}
    return iot_config(
        _read(rules_path), devices, source=str(rules_path.parent), catalogue=catalogue, city=city
    )


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise VendorConfigError(str(path), [f"not YAML: {exc}"]) from exc
