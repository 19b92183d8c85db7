"""``gp models``: each command on a real workspace, errors as one line and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import goldenpath
from tests.cli.inprocess import gp
from tests.registry.conftest import fitted

ACTOR = "alice"
CARD = ["--set", "intended_use=score card payments", "--set", "limitations=EU cards only"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A workspace with fraud@1 (passes its gates once the card is written) and fraud@2
    (fails its metric gate)."""
    home = tmp_path / "home"
    with goldenpath.connect(home, actor=ACTOR, create=True) as ws:
        model, validation = fitted("logistic_regression")
        for gates in (
            {"metrics": ["roc_auc >= 0.7"], "card": True},
            {"metrics": ["roc_auc >= 0.99", "f1 >= 0.99"]},
        ):
            ws.models.register(
                "fraud",
                model,
                validation=validation,
                label="label",
                task="classification",
                gates=gates,
            )
    return home


def run(home: Path, *args: str) -> object:
    return gp(*args, env={"GP_HOME": str(home), "GP_ACTOR": ACTOR, "GP_SERVER": ""}, width=200)


def test_the_models_commands(home: Path) -> None:
    listed = run(home, "models", "list")
    assert listed.code == 0 and "fraud" in listed.out  # type: ignore[attr-defined]
    shown = run(home, "models", "show", "fraud@1", "--json")
    assert json.loads(shown.out)["ref"] == "fraud@1"  # type: ignore[attr-defined]
    text = run(home, "models", "show", "fraud")
    assert "fraud@2" in text.out and "roc_auc=" in text.out and "parity" in text.out  # type: ignore[attr-defined]
    assert "| at threshold 0.5: f1=" in text.out  # type: ignore[attr-defined]
    refused = run(home, "models", "promote", "fraud@1")
    assert refused.code == 5  # type: ignore[attr-defined]
    assert "card: the model card lacks intended_use, limitations" in refused.err  # type: ignore[attr-defined]
    assert "Traceback" not in refused.err  # type: ignore[attr-defined]
    assert run(home, "models", "card", "fraud@1", *CARD).code == 0
    promoted = run(home, "models", "promote", "fraud@1")
    assert promoted.code == 0 and "fraud@champion -> version 1" in promoted.out  # type: ignore[attr-defined]
    failed = run(home, "models", "promote", "fraud@2")
    assert failed.code == 5  # type: ignore[attr-defined]
    lines = failed.err.splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "error: promotion of fraud@2 to champion refused: 2 gate(s) failed"
    assert lines[1].startswith("metric roc_auc >= 0.99: roc_auc = ")
    assert lines[2].startswith("metric f1 >= 0.99: f1 = ")
    assert run(home, "models", "promote", "fraud@2", "--force").code == 2
    forced = run(home, "models", "promote", "fraud@2", "--force", "--reason", "hotfix")
    assert forced.code == 0 and "forced: hotfix" in forced.out  # type: ignore[attr-defined]
    assert run(home, "models", "alias", "fraud@1", "challenger").code == 0
    assert run(home, "models", "alias", "fraud@1", "champion").code == 2
    history = run(home, "models", "history", "fraud")
    assert history.code == 0 and "hotfix" in history.out and "challenger" in history.out  # type: ignore[attr-defined]
    assert run(home, "models", "archive", "fraud@1").code == 5  # holds challenger
    assert run(home, "models", "alias", "fraud", "challenger", "--delete").code == 0
    assert run(home, "models", "archive", "fraud@1").code == 0
    unknown = run(home, "models", "show", "fraud@7")
    assert unknown.code == 4 and "hint: its versions: 1, 2" in unknown.err  # type: ignore[attr-defined]
    nope = run(home, "models", "show", "fraud@nope")
    assert nope.code == 4 and "no alias 'nope'" in nope.err  # type: ignore[attr-defined]
    bad = run(home, "models", "card", "fraud@2", "--set", "nonsense")
    assert bad.code == 2 and "field=value" in bad.err  # type: ignore[attr-defined]
