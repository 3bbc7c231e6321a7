"""The confidence policy: the shipped file, its layers and bands, and its validation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from intake.adapters.policy_file import PolicyError, load_policy, policy_from_dict, source_kind_name
from intake.domain.filing import Reference
from intake.domain.policy import Action, judge, score_of
from svckit.reference import Category


def categories(ref: Reference) -> dict[str, Category]:
    return {c.code: c for c in ref.catalogue}


def minimal(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "defaults": {
            "auto_file": 0.8,
            "review": 0.5,
            "fusion": {"radius_m": 30, "window_minutes": 10},
        },
    }
    doc.update(changes)
    return doc


def test_the_shipped_policy_files_every_simulated_machine_detection(ref: Reference) -> None:
    """The simulator's confidences are 0.8–0.99: with the defaults all are filed at once."""
    for category in ref.catalogue:
        for kind in ("video_ai", "drone", "iot", "inspector", "citizen", "unspecified"):
            for confidence in (0.8, 0.9, 0.99):
                assert judge(ref.policy, category.code, kind, confidence).action is Action.FILE
    fusion = ref.policy.fusion(ref.catalogue.get("C0101"))
    assert fusion.radius_m <= 50 and fusion.window <= timedelta(minutes=30)


def test_bands_auto_review_discard(ref: Reference) -> None:
    policy = policy_from_dict(minimal(), categories(ref))
    assert judge(policy, "E0105", "drone", 0.8).action is Action.FILE  # the threshold itself
    review = judge(policy, "E0105", "drone", 0.5)
    assert (review.action, review.threshold) == (Action.REVIEW, 0.5)
    low = judge(policy, "E0105", "drone", 0.49)
    assert (low.action, low.threshold, low.score) == (Action.DISCARD, 0.5, 0.49)


def test_layers_override_only_what_they_name(ref: Reference) -> None:
    doc = minimal(
        source_kinds={"drone": {"review": 0.3}, "video_ai": {"unscored": "review"}},
        categories={
            "E0105": {"auto_file": 0.9, "sources": {"drone": {"auto_file": 0.7}}},
            "C0105": {"fusion": {"radius_m": 5, "match_component": False}},
        },
    )
    policy = policy_from_dict(doc, categories(ref))
    drone_pothole = policy.thresholds("E0105", "drone")
    assert (drone_pothole.auto_file, drone_pothole.review) == (0.7, 0.3)
    assert policy.thresholds("E0105", "video_ai").auto_file == 0.9
    assert policy.thresholds("E0105", "video_ai").unscored is Action.REVIEW
    assert policy.thresholds("C0101", "drone").review == 0.3
    assert policy.thresholds("C0101", "iot").unscored is Action.FILE  # the default
    gas = policy.fusion(categories(ref)["C0105"])
    assert (gas.radius_m, gas.window, gas.match_component) == (5, timedelta(minutes=10), False)
    assert policy.fusion(categories(ref)["C0101"]).match_component  # components by default
    assert not policy.fusion(categories(ref)["E0105"]).match_component


def test_unscored_detections_follow_the_unscored_action(ref: Reference) -> None:
    doc = minimal(
        source_kinds={"video_ai": {"unscored": "review"}, "drone": {"unscored": "discard"}}
    )
    policy = policy_from_dict(doc, categories(ref))
    assert judge(policy, "E0105", "iot", None).action is Action.FILE
    assert judge(policy, "E0105", "video_ai", None).action is Action.REVIEW
    assert judge(policy, "E0105", "drone", None).action is Action.DISCARD


@pytest.mark.parametrize(
    ("confidence", "certainty", "score"),
    [
        (0.93, "", 0.93),
        (0.93, "unlikely", 0.93),  # a model's own number wins
        (0.0, "observed", 1.0),
        (0.0, "likely", 0.75),
        (0.0, "possible", 0.4),
        (0.0, "unlikely", 0.05),
        (0.0, "unknown", None),
        (0.0, "", None),
        (1.5, "", None),
    ],
)
def test_the_score_is_the_confidence_else_the_cap_certainty(
    confidence: float, certainty: str, score: float | None
) -> None:
    assert score_of(confidence, certainty) == score


def test_source_kinds_are_named_as_in_the_detection_proto() -> None:
    assert source_kind_name(1) == "video_ai" and source_kind_name(0) == "unspecified"
    assert source_kind_name(999) == "unspecified"


def test_every_problem_is_reported_at_once(ref: Reference) -> None:
    doc = minimal(
        source_kinds={"satellite": {"review": 0.1}, "drone": {"review": 0.95}},
        categories={
            "Z9999": {"auto_file": 0.5},
            "E0105": {"auto_file": 1.5, "sources": {"iot": {"surprise": 1}}},
        },
    )
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(doc, categories(ref))
    problems = raised.value.problems
    assert any("auto_file" in p and "E0105" in p for p in problems), problems
    assert any("surprise" in p for p in problems), problems


def test_semantic_problems_name_each_combination(ref: Reference) -> None:
    doc = minimal(
        source_kinds={"satellite": {"review": 0.1}, "drone": {"review": 0.95}},
        categories={"Z9999": {"auto_file": 0.5}, "C0101": {"fusion": {"radius_m": 10}}},
    )
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(doc, categories(ref))
    text = "\n".join(raised.value.problems)
    assert "unknown source kind 'satellite'" in text
    assert "source drone: review 0.95 is above auto_file 0.8" in text
    assert "categories.Z9999: not in the catalogue" in text


@pytest.mark.parametrize(
    "fusion",
    [
        {"radius_m": 0, "window_minutes": 10},
        {"radius_m": 30, "window_minutes": 0},
        {"radius_m": 30},
    ],
)
def test_fusion_defaults_must_be_sensible(ref: Reference, fusion: dict[str, float]) -> None:
    doc = minimal()
    doc["defaults"]["fusion"] = fusion
    with pytest.raises(PolicyError):
        policy_from_dict(doc, categories(ref))


def test_a_broken_file_is_refused_with_its_path(ref: Reference, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("schema_version: [", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml"):
        load_policy(path, categories(ref))
    path.write_text(yaml.safe_dump(minimal(schema_version=2)), encoding="utf-8")
    with pytest.raises(PolicyError, match="schema_version"):
        load_policy(path, categories(ref))
