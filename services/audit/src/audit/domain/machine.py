"""Machine verification (机器核查): a fresh look by a machine source decides a
completed case where the 小类's policy allows it.

A *fresh look* is a detection reported after the department reported the
work done, or the withdrawal of a detection (the source cancelled it, or the
condition cleared: a video alarm went inactive, a sensor fell back). It is
about the case when it comes from the same source (source, device or asset
of a detection the case was filed from) or sees the case's 小类 within the
policy's radius of the case. Within the policy's window after completion:

- a withdrawal, or a look reporting the problem inactive → **pass**;
- a detection of the case's 小类 with confidence below the threshold → **pass**
  (the machine looked and hardly sees it any more);
- one at or above the threshold → **fail** (返工), where the policy lets a
  machine fail a case; otherwise the look is left for a person.

Machines are never the disposer, so 监管分离 holds by construction; a 小类
whose sources a disposing department runs itself should not allow it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from audit.domain.model import CasePlace, CaseRecord, CaseStatus, FreshLook, Party

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class CategoryPolicy:
    """One 小类's machine-verification rule (config/audit/verification.yaml)."""

    machine_verification: bool = False
    window_hours: float = 24.0
    confidence_threshold: float = 0.3
    radius_m: float = 30.0
    # A confident look that still sees the problem sends the case back (返工).
    machine_may_fail: bool = True
    # A pass closes the case at once (结案) with this reason code.
    auto_close: bool = True
    close_reason_code: str = "MACHINE_VERIFIED"


@dataclass(frozen=True)
class VerificationPolicy:
    version: str = "none"
    default: CategoryPolicy = CategoryPolicy()
    categories: Mapping[str, CategoryPolicy] = field(default_factory=dict)

    def for_category(self, code: str) -> CategoryPolicy:
        return self.categories.get(code, self.default)


@dataclass(frozen=True)
class CaseSources:
    """The machine sources a case was filed from (its detections' sources)."""

    detection_ids: frozenset[str] = frozenset()
    source_ids: frozenset[str] = frozenset()
    device_ids: frozenset[str] = frozenset()
    component_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MachineFinding:
    """What a fresh look decided, in words an auditor reads on the timeline."""

    passed: bool
    note: str
    policy: CategoryPolicy


def machine_party(look: FreshLook) -> Party:
    """The machine as the verifier of record."""
    return Party(user_id=f"machine:{look.source_id or look.detection_id}", role="system")


def judge(
    case: CaseRecord, sources: CaseSources, look: FreshLook, policy: VerificationPolicy
) -> MachineFinding | None:
    """Whether `look` decides `case`; None when it says nothing about it."""
    if case.status is not CaseStatus.AWAITING_VERIFICATION or case.completed_at is None:
        return None
    if case.place is None:
        return None
    rule = policy.for_category(case.place.category_code)
    if not rule.machine_verification:
        return None
    if not case.completed_at < look.at <= case.completed_at + timedelta(hours=rule.window_hours):
        return None
    same_source = _same_source(sources, look)
    same_problem = look.category_code == case.place.category_code
    nearby = same_problem and _within(case.place, look, rule.radius_m)
    if not (same_source or nearby):
        return None
    if look.absent:
        return MachineFinding(True, f"机器复核：来源 {_who(look)} 报告问题已消失", rule)
    if not same_problem:
        return None
    confidence = f"置信度 {look.confidence:.2f}，阈值 {rule.confidence_threshold:.2f}"
    if look.confidence < rule.confidence_threshold:
        return MachineFinding(
            True, f"机器复核：{_who(look)} 几乎不再看到问题（{confidence}）", rule
        )
    if rule.machine_may_fail:
        return MachineFinding(False, f"机器复核：{_who(look)} 仍看到问题（{confidence}）", rule)
    return None


def distance_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance (haversine): ample for radii of tens of metres."""
    phi1, phi2 = math.radians(a_lat), math.radians(b_lat)
    d_phi, d_lambda = phi2 - phi1, math.radians(b_lon - a_lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _same_source(sources: CaseSources, look: FreshLook) -> bool:
    return (
        look.detection_id in sources.detection_ids
        or bool(look.source_id and look.source_id in sources.source_ids)
        or bool(look.device_id and look.device_id in sources.device_ids)
        or bool(look.component_id and look.component_id in sources.component_ids)
    )


def _within(place: CasePlace, look: FreshLook, radius_m: float) -> bool:
    if None in (place.latitude, place.longitude, look.latitude, look.longitude):
        return False
    assert place.latitude is not None and place.longitude is not None
    assert look.latitude is not None and look.longitude is not None
    return distance_m(place.latitude, place.longitude, look.latitude, look.longitude) <= radius_m


def _who(look: FreshLook) -> str:
    return look.source_id or look.device_id or look.detection_id
