"""config/audit/*.yaml → domain policies, validated on load so a bad file
stops the service at start rather than misjudging cases later."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit.domain.evaluation import RATES, Formula, GroupBy, Term
from audit.domain.machine import CategoryPolicy, VerificationPolicy

T = TypeVar("T", bound=BaseModel)
VERIFICATION_FILE = Path("audit") / "verification.yaml"
EVALUATION_FILE = Path("audit") / "evaluation.yaml"


class PolicyFileError(ValueError):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CategoryRule(_Strict):
    machine_verification: bool | None = None
    window_hours: float | None = Field(default=None, gt=0)
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)
    radius_m: float | None = Field(default=None, ge=0)
    machine_may_fail: bool | None = None
    auto_close: bool | None = None
    close_reason_code: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")


class _VerificationFile(_Strict):
    schema_version: Literal[1]
    version: str = Field(min_length=1)
    defaults: _CategoryRule = _CategoryRule()
    categories: dict[str, _CategoryRule] = {}


class _Term(_Strict):
    indicator: str
    weight: float = Field(gt=0)
    lower_is_better: bool = False


class _EvaluationFile(_Strict):
    schema_version: Literal[1]
    version: str = Field(min_length=1)
    scale: float = Field(default=100, gt=0)
    formulas: dict[GroupBy, list[_Term]]


def load_verification_policy(path: Path) -> VerificationPolicy:
    data = _parse(path, _VerificationFile)
    default = _merge(CategoryPolicy(), data.defaults)
    categories = {code: _merge(default, rule) for code, rule in data.categories.items()}
    return VerificationPolicy(version=data.version, default=default, categories=categories)


def load_formula(path: Path) -> Formula:
    data = _parse(path, _EvaluationFile)
    missing = [g.value for g in GroupBy if g not in data.formulas]
    if missing:
        raise PolicyFileError(path, f"formulas missing for: {', '.join(missing)}")
    terms: dict[GroupBy, tuple[Term, ...]] = {}
    for group, items in data.formulas.items():
        unknown = [t.indicator for t in items if t.indicator not in RATES]
        if unknown or not items:
            raise PolicyFileError(
                path,
                f"formula {group.value}: needs terms over the rates "
                f"{', '.join(RATES)}; unknown: {', '.join(unknown) or '(none given)'}",
            )
        terms[group] = tuple(Term(t.indicator, t.weight, t.lower_is_better) for t in items)
    return Formula(version=data.version, terms=terms, scale=data.scale)


def _merge(base: CategoryPolicy, rule: _CategoryRule) -> CategoryPolicy:
    given = {k: v for k, v in rule.model_dump().items() if v is not None}
    return CategoryPolicy(**{**base.__dict__, **given})


def _parse(path: Path, model: type[T]) -> T:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise PolicyFileError(path, str(exc)) from exc
