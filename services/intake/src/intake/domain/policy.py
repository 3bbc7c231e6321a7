"""The confidence policy: what happens to a detection, by its 小类 and source kind.

A detection's score is its model confidence, or, when the source gave none, a
number for its CAP certainty (a CAP alert or a sensor rule says how sure it is
in words). Against the thresholds of its 小类 and source kind:

- score ≥ `auto_file`            → file a case at once (立案);
- `review` ≤ score < `auto_file` → open a case in TRIAGE for an operator;
- score < `review`               → record and discard it (counted, auditable).

A detection with neither confidence nor certainty is *unscored*; the policy's
`unscored` action decides (people and sensor rules are not scored; a video
model that forgot its confidence should be looked at).

Thresholds are layered, each level overriding only what it names:
defaults ← source kind ← 小类 ← 小类 × source kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from svckit.reference import Category, CategoryKind


class Action(StrEnum):
    FILE = "file"
    REVIEW = "review"
    DISCARD = "discard"


CERTAINTY_SCORES: dict[str, float] = {
    "observed": 1.0,
    "likely": 0.75,
    "possible": 0.4,
    "unlikely": 0.05,
}
"""CAP 1.2 certainty as a probability: Observed, Likely (p > ~50%), Possible
(p ≤ ~50%), Unlikely (p ~ 0). Unknown certainty gives no score."""


def score_of(confidence: float, certainty: str) -> float | None:
    """The detection's score: its confidence if it has one, else its CAP certainty."""
    if 0.0 < confidence <= 1.0:
        return confidence
    return CERTAINTY_SCORES.get(certainty)


@dataclass(frozen=True)
class Thresholds:
    auto_file: float
    review: float
    unscored: Action


@dataclass(frozen=True)
class ThresholdOverride:
    """One layer of the policy: None leaves the layer below in force."""

    auto_file: float | None = None
    review: float | None = None
    unscored: Action | None = None

    def over(self, base: Thresholds) -> Thresholds:
        return Thresholds(
            auto_file=base.auto_file if self.auto_file is None else self.auto_file,
            review=base.review if self.review is None else self.review,
            unscored=base.unscored if self.unscored is None else self.unscored,
        )


@dataclass(frozen=True)
class FusionRule:
    """When a detection corroborates an open case instead of opening one.

    Same 小类, and either within `radius_m` of the case's first point, or — for
    component (部件) 小类 with `match_component` — about the same component
    (its component id, or the device id of a source kind whose device *is* the
    component, like a tilt sensor bolted to a manhole cover). In both cases its
    observation time lies within `window` of the case's detections.
    """

    radius_m: float
    window: timedelta
    match_component: bool


@dataclass(frozen=True)
class FusionDefaults:
    radius_m: float
    window: timedelta
    # None: component 小类 match on the component, event 小类 do not.
    match_component: bool | None = None


@dataclass(frozen=True)
class FusionOverride:
    radius_m: float | None = None
    window: timedelta | None = None
    match_component: bool | None = None


@dataclass(frozen=True)
class Verdict:
    """What the policy decided for one detection, and by which threshold."""

    action: Action
    score: float | None
    threshold: float
    thresholds: Thresholds


@dataclass(frozen=True)
class IntakePolicy:
    defaults: Thresholds
    fusion_defaults: FusionDefaults
    by_source: Mapping[str, ThresholdOverride] = field(default_factory=dict)
    by_category: Mapping[str, ThresholdOverride] = field(default_factory=dict)
    by_category_source: Mapping[tuple[str, str], ThresholdOverride] = field(default_factory=dict)
    fusion_by_category: Mapping[str, FusionOverride] = field(default_factory=dict)
    # Source kinds whose device id names the component itself (IoT sensors on it).
    component_device_sources: frozenset[str] = frozenset({"iot"})

    def thresholds(self, category_code: str, source_kind: str) -> Thresholds:
        empty = ThresholdOverride()
        resolved = self.by_source.get(source_kind, empty).over(self.defaults)
        resolved = self.by_category.get(category_code, empty).over(resolved)
        return self.by_category_source.get((category_code, source_kind), empty).over(resolved)

    def fusion(self, category: Category) -> FusionRule:
        """The 小类's fusion rule; component 小类 match on the component unless told not to."""
        base = self.fusion_defaults
        own = self.fusion_by_category.get(category.code, FusionOverride())
        match = own.match_component if own.match_component is not None else base.match_component
        return FusionRule(
            radius_m=own.radius_m if own.radius_m is not None else base.radius_m,
            window=own.window if own.window is not None else base.window,
            match_component=category.kind is CategoryKind.COMPONENT if match is None else match,
        )

    def problems(self, categories: Mapping[str, Category]) -> list[str]:
        """Every combination whose thresholds are out of order (review above auto_file)."""
        found = []
        kinds = sorted({"*", *self.by_source, *(k for _, k in self.by_category_source)})
        codes = sorted({"*", *self.by_category, *(c for c, _ in self.by_category_source)})
        for code in codes:
            for kind in kinds:
                t = self.thresholds(code, kind)
                if t.review > t.auto_file:
                    found.append(
                        f"category {code} × source {kind}: review {t.review} is above "
                        f"auto_file {t.auto_file}"
                    )
        found += [
            f"categories.{code}: not in the catalogue"
            for code in sorted({*codes, *self.fusion_by_category} - {"*"})
            if code not in categories
        ]
        return found


def judge(
    policy: IntakePolicy, category_code: str, source_kind: str, score: float | None
) -> Verdict:
    """The policy's action for a detection of this 小类, source kind and score."""
    t = policy.thresholds(category_code, source_kind)
    if score is None:
        return Verdict(t.unscored, None, 0.0, t)
    if score >= t.auto_file:
        return Verdict(Action.FILE, score, t.auto_file, t)
    if score >= t.review:
        return Verdict(Action.REVIEW, score, t.review, t)
    return Verdict(Action.DISCARD, score, t.review, t)
