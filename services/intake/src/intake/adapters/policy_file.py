"""config/intake/policy.yaml → the domain's IntakePolicy, validated on load.

Like the catalogue, the file is checked whole before the service starts and
every problem is reported at once, each naming where it is, because a wrong
threshold silently files (or drops) every alarm of a 小类.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cityops.detection.v1 import detection_pb2
from intake.domain.policy import (
    Action,
    FusionDefaults,
    FusionOverride,
    IntakePolicy,
    ThresholdOverride,
    Thresholds,
)
from svckit.reference import Category

POLICY_FILE = Path("intake") / "policy.yaml"
SOURCE_KIND_PREFIX = "SOURCE_KIND_"

Score = Annotated[float, Field(ge=0.0, le=1.0)]
Radius = Annotated[float, Field(gt=0.0, le=5000.0)]
WindowMinutes = Annotated[float, Field(gt=0.0, le=7 * 24 * 60)]


def source_kind_name(value: int) -> str:
    """A SourceKind number as the policy names it: SOURCE_KIND_VIDEO_AI → video_ai."""
    try:
        name = detection_pb2.SourceKind.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return "unspecified"
    return name.removeprefix(SOURCE_KIND_PREFIX).lower()


def known_source_kinds() -> frozenset[str]:
    return frozenset(source_kind_name(v) for v in detection_pb2.SourceKind.values())


class PolicyError(ValueError):
    """The policy file is unusable; ``problems`` lists each one."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"invalid intake policy {source}: {len(self.problems)} problem(s)\n{lines}"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fusion(_Strict):
    radius_m: Radius | None = None
    window_minutes: WindowMinutes | None = None
    match_component: bool | None = None


class _DefaultFusion(_Strict):
    radius_m: Radius
    window_minutes: WindowMinutes
    match_component: bool | None = None
    component_device_sources: list[str] = Field(default_factory=lambda: ["iot"])


class _Layer(_Strict):
    auto_file: Score | None = None
    review: Score | None = None
    unscored: Action | None = None


class _Category(_Layer):
    fusion: _Fusion | None = None
    sources: dict[str, _Layer] = Field(default_factory=dict)


class _Defaults(_Strict):
    auto_file: Score
    review: Score
    unscored: Action = Action.FILE
    fusion: _DefaultFusion


class _PolicyFile(_Strict):
    schema_version: Literal[1]
    defaults: _Defaults
    source_kinds: dict[str, _Layer] = Field(default_factory=dict)
    categories: dict[str, _Category] = Field(default_factory=dict)


def _override(layer: _Layer) -> ThresholdOverride:
    return ThresholdOverride(
        auto_file=layer.auto_file, review=layer.review, unscored=layer.unscored
    )


def _fusion(f: _Fusion) -> FusionOverride:
    window = None if f.window_minutes is None else timedelta(minutes=f.window_minutes)
    return FusionOverride(radius_m=f.radius_m, window=window, match_component=f.match_component)


def _build(doc: _PolicyFile) -> IntakePolicy:
    d = doc.defaults
    return IntakePolicy(
        defaults=Thresholds(d.auto_file, d.review, d.unscored),
        fusion_defaults=FusionDefaults(
            radius_m=d.fusion.radius_m,
            window=timedelta(minutes=d.fusion.window_minutes),
            match_component=d.fusion.match_component,
        ),
        by_source={kind: _override(layer) for kind, layer in doc.source_kinds.items()},
        by_category={code: _override(c) for code, c in doc.categories.items()},
        by_category_source={
            (code, kind): _override(layer)
            for code, c in doc.categories.items()
            for kind, layer in c.sources.items()
        },
        fusion_by_category={
            code: _fusion(c.fusion) for code, c in doc.categories.items() if c.fusion is not None
        },
        component_device_sources=frozenset(d.fusion.component_device_sources),
    )


def _unknown_kinds(doc: _PolicyFile, kinds: frozenset[str]) -> list[str]:
    named = [(f"source_kinds.{k}", k) for k in doc.source_kinds]
    named += [
        (f"categories.{code}.sources.{k}", k)
        for code, c in doc.categories.items()
        for k in c.sources
    ]
    named += [
        (f"defaults.fusion.component_device_sources[{i}]", k)
        for i, k in enumerate(doc.defaults.fusion.component_device_sources)
    ]
    allowed = ", ".join(sorted(kinds))
    return [
        f"{where}: unknown source kind {k!r} (one of {allowed})"
        for where, k in named
        if k not in kinds
    ]


def policy_from_dict(
    data: object,
    categories: Mapping[str, Category],
    *,
    source_kinds: frozenset[str] | None = None,
    source: str = "<memory>",
) -> IntakePolicy:
    """Validate a parsed policy document against the catalogue and source kinds."""
    try:
        doc = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise PolicyError(source, problems) from exc
    policy = _build(doc)
    problems = _unknown_kinds(doc, source_kinds or known_source_kinds())
    problems += policy.problems(categories)
    if problems:
        raise PolicyError(source, problems)
    return policy


def load_policy(path: Path, categories: Mapping[str, Category]) -> IntakePolicy:
    """Read and validate the policy file; raises PolicyError listing every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(str(path), [f"unreadable: {exc}"]) from exc
    return policy_from_dict(data, categories, source=str(path))
