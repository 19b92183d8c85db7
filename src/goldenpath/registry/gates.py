"""Approval gates: what a model version must pass before it becomes ``champion``.

``gp.yaml``'s ``gates:`` section (validated by :class:`GatesConfig`, unknown keys refused)::

    gates:
      metrics: ["roc_auc >= 0.85", "log_loss <= 0.6"]
      no_regression: {metric: roc_auc, margin: 0.01}
      contract: true
      card: true

The gates are stored with the version at registration and applied by ``promote``. Each gate
gives a :class:`GateResult` with its numbers. A metric that is NaN (undefined on the data) or
missing fails its gate; it never raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from goldenpath.core.errors import InvalidInput
from goldenpath.registry.metrics import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    REGRESSION_METRICS,
    metric_names,
)

METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
_RULE = re.compile(
    r"^\s*([a-z_0-9]+)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}
# The fields a card must fill for the card gate.
CARD_REQUIRED = ("intended_use", "limitations", "owners")


@dataclass(frozen=True)
class MetricRule:
    """One threshold: ``roc_auc >= 0.85``."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def parse_rule(text: str) -> MetricRule:
    """``"roc_auc >= 0.85"`` -> a :class:`MetricRule`; a bad rule raises ValueError."""
    if not isinstance(text, str) or len(text) > 200:
        raise ValueError("a metric gate is text such as 'roc_auc >= 0.85'")
    found = _RULE.match(text)
    if not found:
        raise ValueError(f"cannot read metric gate {text!r}: write it as 'roc_auc >= 0.85'")
    metric, op, number = found.groups()
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} in {text!r}: use one of {', '.join(METRICS)}")
    threshold = float(number)
    if not math.isfinite(threshold):
        raise ValueError(f"the threshold in {text!r} must be a finite number")
    return MetricRule(metric, op, threshold)


class NoRegression(BaseModel):
    """The candidate may be at most ``margin`` worse than the champion on ``metric``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metric: str
    margin: float = Field(default=0.0, ge=0.0, le=1e6, allow_inf_nan=False)

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}: use one of {', '.join(METRICS)}")
        return value


class GatesConfig(BaseModel):
    """The ``gates:`` section of ``gp.yaml`` (strict types: ``card: 1`` is not true, and
    ``margin: true`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metrics: list[str] = Field(default_factory=list, max_length=50)
    no_regression: NoRegression | None = None
    contract: bool = False
    card: bool = False

    @field_validator("metrics")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_rule(text)
        return value

    def rules(self) -> list[MetricRule]:
        return [parse_rule(text) for text in self.metrics]

    def check_task(self, task: str) -> None:
        """Refuse a gate on a metric the task does not compute."""
        known = metric_names(task)
        named = [r.metric for r in self.rules()]
        if self.no_regression is not None:
            named.append(self.no_regression.metric)
        wrong = [m for m in named if m not in known]
        if wrong:
            raise InvalidInput(
                f"gate metric(s) {', '.join(wrong)} are not computed for {task}",
                hint=f"{task} metrics: {', '.join(known)}",
            )


def gates_config(value: Mapping[str, Any] | GatesConfig | None) -> GatesConfig:
    """A :class:`GatesConfig` from a mapping (``gp.yaml``'s section), with one clear error."""
    if value is None:
        return GatesConfig()
    if isinstance(value, GatesConfig):
        return value
    from pydantic import ValidationError

    try:
        return GatesConfig.model_validate(dict(value))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "gates"
        raise InvalidInput(
            f"gates: {where}: {first['msg']}",
            hint="gates take metrics, no_regression {metric, margin}, contract, card",
        ) from None
    except (TypeError, ValueError):  # dict() of a list of strings is a ValueError
        raise InvalidInput("gates must be a mapping") from None


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome and the numbers behind it."""

    name: str
    passed: bool
    message: str
    value: float | None = None
    threshold: float | None = None
    champion_value: float | None = None
    margin: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, infinite, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def metric_gate(rule: MetricRule, metrics: Mapping[str, Any]) -> GateResult:
    value = _number(metrics.get(rule.metric))
    name = f"metric {rule}"
    if value is None:
        return GateResult(name, False, f"{rule.metric} is NaN or missing", None, rule.threshold)
    passed = bool(_OPS[rule.op](value, rule.threshold))
    return GateResult(name, passed, f"{rule.metric} = {value:.6g}", value, rule.threshold)


def regression_gate(
    config: NoRegression,
    candidate: float | None,
    champion: float | None,
    champion_ref: str | None,
    why_not: str | None = None,
) -> GateResult:
    """The candidate vs the champion, both measured on the candidate's validation rows.

    ``why_not`` (the champion, or the candidate, could not be scored) always fails, whatever
    else is given: only a missing champion (``champion_ref`` None and no ``why_not``) passes."""
    metric, margin = config.metric, config.margin
    name = f"no_regression {metric} (margin {margin:g})"
    cand, champ = _number(candidate), _number(champion)
    if why_not is not None:
        return GateResult(name, False, why_not, cand, None, champ, margin)
    if champion_ref is None:
        return GateResult(name, True, "no champion yet", cand, None, None, margin)
    if cand is None or champ is None:
        reason = f"{metric} is NaN for the {'candidate' if cand is None else 'champion'}"
        return GateResult(name, False, reason, cand, None, champ, margin)
    if metric in HIGHER_IS_BETTER:
        threshold = champ - margin
        passed = cand >= threshold
    else:
        threshold = champ + margin
        passed = cand <= threshold
    message = f"{metric} {cand:.6g} vs champion {champion_ref} {champ:.6g}"
    return GateResult(name, passed, message, cand, threshold, champ, margin)


def contract_gate(lineage: Mapping[str, Any]) -> GateResult:
    passed = lineage.get("contract_passed") is True
    message = (
        "the training data passed its contract"
        if passed
        else "the training data did not pass its contract (or it was not recorded)"
    )
    return GateResult("contract", passed, message)


def card_gate(card: Mapping[str, Any]) -> GateResult:
    missing = [f for f in CARD_REQUIRED if not _filled(card.get(f))]
    if missing:
        return GateResult("card", False, f"the model card lacks {', '.join(missing)}")
    return GateResult("card", True, "the model card is complete")


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Sequence):
        return any(isinstance(v, str) and v.strip() for v in value)
    return False


def failure_lines(results: Sequence[GateResult]) -> list[str]:
    """One line per failed gate, with its numbers."""
    lines = []
    for r in results:
        if r.passed:
            continue
        numbers = []
        if r.threshold is not None:
            numbers.append(f"threshold {r.threshold:.6g}")
        if r.champion_value is not None:
            numbers.append(f"champion {r.champion_value:.6g}")
        extra = f" ({', '.join(numbers)})" if numbers else ""
        lines.append(f"{r.name}: {r.message}{extra}")
    return lines
