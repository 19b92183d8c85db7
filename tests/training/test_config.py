"""gp.yaml's training section: validated with line numbers; --param overrides keep types."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath.core.errors import InvalidInput
from goldenpath.training.config import apply_param_overrides, load_training_config

GOOD = """\
name: fraud
training:
  model: fraud
  dataset: transactions
  timestamp: ts
  label: is_fraud
  feature_service: fraud
  params: {C: 1.0, depth: 3, kind: lbfgs, balanced: false}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "gp.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_section_loads_with_defaults(tmp_path: Path) -> None:
    config = load_training_config(write(tmp_path, GOOD))
    assert config.model == "fraud" and config.task == "classification"
    assert config.split.by == "time" and config.split.validation == 0.2
    assert (config.entry_file, config.entry_function) == ("train.py", "train")


def test_an_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_training_config(write(tmp_path, GOOD + "  splitt: {by: time}\n"))
    assert "gp.yaml:9:" in caught.value.message and "splitt" in caught.value.message


def test_a_bad_value_names_its_line(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  feature_service: fraud\n", "  feature_service: fraud\n  split: {by: month}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        load_training_config(write(tmp_path, text))
    assert "gp.yaml:8:" in caught.value.message and "training.split.by" in caught.value.message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("  entry: ../elsewhere.py\n", "inside the project"),
        ("  entry: /etc/elsewhere.py\n", "inside the project"),
        ("  features: [user_tx:amount]\n", "not both"),
        ("  model: Fraud Model\n", "model name"),
        ("  time_limit: 0\n", "time_limit"),
    ],
)
def test_wrong_settings_are_refused(tmp_path: Path, change: str, words: str) -> None:
    text = GOOD.replace("  model: fraud\n", "") + change if "model:" in change else GOOD + change
    with pytest.raises(InvalidInput) as caught:
        load_training_config(write(tmp_path, text))
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("  time_limit: true\n", "training.time_limit: Input should be a valid integer"),
        ("  time_limit: 1.5\n", "training.time_limit: Input should be a valid integer"),
        ("  time_limit: '300'\n", "training.time_limit: Input should be a valid integer"),
        ("  seed: false\n", "training.seed: Input should be a valid integer"),
        ("  threshold: true\n", "training.threshold: Input should be a valid number"),
        ("  split: {by: random, validation: true}\n", "training.split.validation"),
        ("  gates: {no_regression: {metric: roc_auc, margin: true}}\n", "margin"),
        ("  gates: {contract: 1}\n", "training.gates.contract"),
    ],
)
def test_booleans_and_text_are_not_numbers_and_the_line_is_named(
    tmp_path: Path, change: str, where: str
) -> None:
    """Strict types for every number in gp.yaml (YAML's true is no 1-second time limit)."""
    with pytest.raises(InvalidInput) as caught:
        load_training_config(write(tmp_path, GOOD + change))
    assert caught.value.message.startswith(f"{tmp_path / 'gp.yaml'}:9: ")
    assert where in caught.value.message


def test_integers_still_stand_for_numbers(tmp_path: Path) -> None:
    text = GOOD + "  split: {by: random, validation: 0.25}\n  time_limit: 300\n  seed: 0\n"
    config = load_training_config(write(tmp_path, text))
    assert config.time_limit == 300 and config.seed == 0 and config.split.validation == 0.25
    gated = GOOD + "  gates: {no_regression: {metric: roc_auc, margin: 0}, card: true}\n"
    assert load_training_config(write(tmp_path, gated)).gates is not None


def test_no_file_or_no_section_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no gp\.yaml"):
        load_training_config(tmp_path)
    with pytest.raises(InvalidInput, match="no training: section"):
        load_training_config(write(tmp_path, "name: x\n"))


def test_param_overrides_keep_the_declared_type() -> None:
    params = {"C": 1.0, "depth": 3, "kind": "lbfgs", "balanced": False}
    got = apply_param_overrides(params, ["C=0.5", "depth=5", "kind=saga", "balanced=true"])
    assert got == {"C": 0.5, "depth": 5, "kind": "saga", "balanced": True}
    assert apply_param_overrides(params, ["C=2"])["C"] == 2.0  # an int may stand for a float
    assert apply_param_overrides(params, ["kind=3"])["kind"] == "3"  # text stays text


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("depth=deep", "depth is int"),
        ("depth=1.5", "depth is int"),
        ("C=fast", "C is float"),
        ("C=.nan", "C is float"),
        ("balanced=1", "balanced is bool"),
        ("gamma=1", "no such parameter"),
        ("C", "expected key=value"),
    ],
)
def test_a_wrong_override_is_refused(override: str, words: str) -> None:
    params = {"C": 1.0, "depth": 3, "kind": "lbfgs", "balanced": False}
    with pytest.raises(InvalidInput) as caught:
        apply_param_overrides(params, [override])
    assert words in str(caught.value)
