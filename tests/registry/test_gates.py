"""The gates' rules at their boundaries, without a registry: a threshold met exactly passes,
a champion within its margin passes and one just past it fails, in both directions; NaN,
missing and non-numbers fail; the card and contract gates read exactly what they name."""

from __future__ import annotations

import math

import pytest

from goldenpath.core.errors import InvalidInput
from goldenpath.registry.gates import (
    GateResult,
    GatesConfig,
    MetricRule,
    NoRegression,
    card_gate,
    contract_gate,
    failure_lines,
    gates_config,
    metric_gate,
    parse_rule,
    regression_gate,
)


@pytest.mark.parametrize(
    ("text", "value", "passed"),
    [
        ("roc_auc >= 0.85", 0.85, True),
        ("roc_auc >= 0.85", 0.8499, False),
        ("roc_auc > 0.85", 0.85, False),
        ("roc_auc > 0.85", 0.8501, True),
        ("log_loss <= 0.6", 0.6, True),
        ("log_loss <= 0.6", 0.6001, False),
        ("log_loss < 0.6", 0.6, False),
        ("log_loss < 0.6", 0.5999, True),
        ("rmse<=1e-3", 0.001, True),
        ("  r2 >= -.5 ", -0.5, True),
    ],
)
def test_a_metric_gate_compares_with_its_operator(text: str, value: float, passed: bool) -> None:
    rule = parse_rule(text)
    result = metric_gate(rule, {rule.metric: value, "other": 0.0})
    assert result.passed is passed
    assert (result.value, result.threshold) == (value, rule.threshold)
    assert result.name == f"metric {rule}"
    assert result.message == f"{rule.metric} = {value:.6g}"


def test_a_rule_reads_metric_operator_and_threshold() -> None:
    assert parse_rule("roc_auc >= 0.85") == MetricRule("roc_auc", ">=", 0.85)
    assert parse_rule("mae<2") == MetricRule("mae", "<", 2.0)
    assert str(parse_rule("f1 > 0.5")) == "f1 > 0.5"
    assert parse_rule("r2 >= +1E2").threshold == 100.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auc > 0.5", "unknown metric 'auc'"),
        ("roc_auc = 0.5", "cannot read metric gate"),
        ("roc_auc >= 0.5 extra", "cannot read metric gate"),
        ("x" * 201, "a metric gate is text"),
        ("roc_auc >= 1e999", "must be a finite number"),
    ],
)
def test_a_bad_rule_is_refused_with_its_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rule(text)
    with pytest.raises(InvalidInput, match="gates: metrics"):
        gates_config({"metrics": [text]})


def test_a_rule_of_200_characters_is_read() -> None:
    text = "roc_auc >= 0.5" + " " * 186
    assert len(text) == 200 and parse_rule(text).threshold == 0.5


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, True, "0.9"])
def test_a_missing_or_unusable_metric_fails_its_gate(value: object) -> None:
    metrics = {} if value is None else {"roc_auc": value}
    result = metric_gate(parse_rule("roc_auc >= 0.0"), metrics)
    assert result.passed is False
    assert result.message == "roc_auc is NaN or missing"
    assert (result.value, result.threshold) == (None, 0.0)


def test_an_integer_metric_counts() -> None:
    assert metric_gate(parse_rule("f1 >= 1"), {"f1": 1}).passed


HIGHER = NoRegression(metric="roc_auc", margin=0.01)
LOWER = NoRegression(metric="log_loss", margin=0.01)


@pytest.mark.parametrize(
    ("config", "candidate", "passed", "threshold"),
    [
        (HIGHER, 0.79, True, 0.79),  # exactly the margin worse
        (HIGHER, 0.7899, False, 0.79),
        (HIGHER, 0.9, True, 0.79),
        (LOWER, 0.31, True, 0.31),
        (LOWER, 0.3101, False, 0.31),
        (LOWER, 0.1, True, 0.31),
    ],
)
def test_no_regression_allows_exactly_its_margin_in_the_metric_direction(
    config: NoRegression, candidate: float, passed: bool, threshold: float
) -> None:
    champion = 0.8 if config is HIGHER else 0.3
    result = regression_gate(config, candidate, champion, "fraud@1")
    assert result.passed is passed
    assert result.threshold == pytest.approx(threshold)
    assert (result.value, result.champion_value, result.margin) == (candidate, champion, 0.01)
    assert result.name == f"no_regression {config.metric} (margin 0.01)"
    metric = config.metric
    assert result.message == f"{metric} {candidate:.6g} vs champion fraud@1 {champion:.6g}"


def test_no_regression_with_no_margin_needs_at_least_the_champion() -> None:
    exact = NoRegression(metric="r2")
    assert exact.margin == 0.0
    assert regression_gate(exact, 0.5, 0.5, "m@1").passed
    assert regression_gate(exact, 0.4999, 0.5, "m@1").passed is False


def test_no_champion_passes_but_an_unscorable_one_fails() -> None:
    alone = regression_gate(HIGHER, 0.5, None, None)
    assert alone.passed and alone.message == "no champion yet"
    assert (alone.value, alone.threshold, alone.champion_value) == (0.5, None, None)
    why = "the champion fraud@1 cannot be scored on these rows: it needs city"
    refused = regression_gate(HIGHER, 0.5, 0.9, None, why_not=why)
    assert refused.passed is False and refused.message == why
    assert (refused.value, refused.champion_value, refused.margin) == (0.5, 0.9, 0.01)
    assert regression_gate(HIGHER, 0.99, 0.1, "fraud@1", why_not=why).passed is False


@pytest.mark.parametrize(
    ("candidate", "champion", "who"),
    [(math.nan, 0.8, "candidate"), (0.8, math.nan, "champion"), (None, 0.8, "candidate")],
)
def test_no_regression_fails_on_a_nan_side_naming_it(
    candidate: float | None, champion: float, who: str
) -> None:
    result = regression_gate(HIGHER, candidate, champion, "fraud@1")
    assert result.passed is False
    assert result.message == f"roc_auc is NaN for the {who}"


def test_the_contract_gate_needs_a_recorded_pass() -> None:
    assert contract_gate({"contract_passed": True}).passed
    for lineage in ({}, {"contract_passed": False}, {"contract_passed": 1}):
        result = contract_gate(lineage)
        assert result.passed is False and "did not pass its contract" in result.message
    assert contract_gate({"contract_passed": True}).message == (
        "the training data passed its contract"
    )


def test_the_card_gate_names_every_missing_field() -> None:
    full = {"intended_use": "fraud", "limitations": "EUR only", "owners": ["alice"]}
    assert card_gate(full) == GateResult("card", True, "the model card is complete")
    empty = card_gate({"intended_use": "  ", "limitations": "", "owners": [" ", 3]})
    assert empty.passed is False
    assert empty.message == "the model card lacks intended_use, limitations, owners"
    assert card_gate({**full, "owners": "alice"}).passed
    assert card_gate({**full, "owners": 7}).message == "the model card lacks owners"
    assert card_gate({**full, "limitations": None}).message == "the model card lacks limitations"


def test_failure_lines_give_each_failed_gate_with_its_numbers() -> None:
    results = [
        GateResult("metric roc_auc >= 0.9", False, "roc_auc = 0.8", 0.8, 0.9),
        GateResult("card", True, "complete"),
        GateResult("no_regression", False, "worse", 0.5, 0.79, 0.8, 0.01),
        GateResult("contract", False, "not passed"),
    ]
    assert failure_lines(results) == [
        "metric roc_auc >= 0.9: roc_auc = 0.8 (threshold 0.9)",
        "no_regression: worse (threshold 0.79, champion 0.8)",
        "contract: not passed",
    ]
    assert GateResult.from_dict({**results[2].as_dict(), "extra": 1}) == results[2]


def test_gates_config_is_strict_and_checks_the_task() -> None:
    assert gates_config(None) == GatesConfig()
    config = GatesConfig(metrics=["roc_auc >= 0.5"])
    assert gates_config(config) is config
    parsed = gates_config({"metrics": ["rmse <= 2"], "no_regression": {"metric": "mae"}})
    assert parsed.rules() == [MetricRule("rmse", "<=", 2.0)]
    parsed.check_task("regression")
    with pytest.raises(InvalidInput, match="rmse, mae are not computed for classification"):
        parsed.check_task("classification")
    with pytest.raises(InvalidInput, match="gates: card"):
        gates_config({"card": 1})
    with pytest.raises(InvalidInput, match=r"gates: no_regression\.margin"):
        gates_config({"no_regression": {"metric": "f1", "margin": -0.1}})
    with pytest.raises(InvalidInput, match="unknown metric 'auc'"):
        gates_config({"no_regression": {"metric": "auc"}})
    for wrong in (["card"], 5):
        with pytest.raises(InvalidInput, match="gates must be a mapping"):
            gates_config(wrong)  # type: ignore[arg-type]
