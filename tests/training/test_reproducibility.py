"""gp runs rerun: the same inputs and seed give a model with the same fingerprint, for each
supported library (the fingerprint: the native artifact's hash and the ONNX graph's hash with
generated names cleared, docs/models.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath.workspace import Workspace
from tests.training.conftest import write_train

PREPARE = """\
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder


def prepared(ctx, estimator):
    prepare = ColumnTransformer(
        [
            ("numbers", SimpleImputer(), ctx.numeric),
            ("text", OneHotEncoder(handle_unknown="ignore"), ctx.categorical),
        ]
    )
    return Pipeline([("prepare", prepare), ("model", estimator)]).fit(ctx.X_train, ctx.y_train)
"""

MODELS = {
    "logistic_regression": (
        "from sklearn.linear_model import LogisticRegression\n"
        "def train(ctx):\n"
        "    return prepared(ctx, LogisticRegression(max_iter=200, random_state=ctx.seed))\n"
    ),
    "random_forest": (
        "from sklearn.ensemble import RandomForestClassifier\n"
        "def train(ctx):\n"
        "    return prepared(ctx, RandomForestClassifier(n_estimators=15, max_depth=5,"
        " random_state=ctx.seed))\n"
    ),
    "gradient_boosting": (
        "from sklearn.ensemble import GradientBoostingClassifier\n"
        "def train(ctx):\n"
        "    return prepared(ctx, GradientBoostingClassifier(n_estimators=15,"
        " random_state=ctx.seed))\n"
    ),
    "lightgbm": (
        "import lightgbm\n"
        "def train(ctx):\n"
        "    X = ctx.X_train[ctx.numeric]\n"
        "    return lightgbm.LGBMClassifier(n_estimators=15, random_state=ctx.seed,"
        " verbose=-1).fit(X, ctx.y_train)\n"
    ),
    "xgboost": (
        "import xgboost\n"
        "def train(ctx):\n"
        "    X = ctx.X_train[ctx.numeric]\n"
        "    return xgboost.XGBClassifier(n_estimators=15, random_state=ctx.seed).fit(X,"
        " ctx.y_train)\n"
    ),
}


def numeric_only(project: Path) -> None:
    """LightGBM and XGBoost read numbers: leave the text column out of the inputs."""
    text = (project / "gp.yaml").read_text(encoding="utf-8")
    (project / "gp.yaml").write_text(text.replace("columns: [currency]", "columns: []"))


@pytest.mark.parametrize("library", sorted(MODELS))
def test_a_rerun_gives_the_same_fingerprint(
    trained_ws: Workspace, project: Path, library: str
) -> None:
    write_train(project, PREPARE + MODELS[library])
    if library in ("lightgbm", "xgboost"):
        numeric_only(project)
    first = trained_ws.training.train(project)
    (project / "train.py").write_text("def train(ctx):\n    raise SystemExit('edited')\n")
    again = trained_ws.training.rerun(first.run_id)  # from the run's stored entry.py
    assert again.fingerprint == first.fingerprint
    assert again.training_set == first.training_set and again.model != first.model
    # It says so: the new version is the same model as the first one.
    assert first.same_fingerprint_as is None and again.same_fingerprint_as == first.model
    register = next(s for s in again.steps if s.step == "register")
    assert f"same fingerprint as {first.model}" in register.detail
    # The rerun carries the original's contract results (the contract gate reads them).
    original, repeated = trained_ws.models.get(first.model), trained_ws.models.get(again.model)
    assert repeated.lineage["contracts"] == original.lineage["contracts"] != []
    assert repeated.lineage["contract_passed"] is True
    rerun = trained_ws.runs.get(again.run_id)
    assert (
        rerun.rerun_of == first.run_id and rerun.params == trained_ws.runs.get(first.run_id).params
    )


def test_another_seed_is_another_model(trained_ws: Workspace, project: Path) -> None:
    write_train(project, PREPARE + MODELS["random_forest"])
    first = trained_ws.training.train(project)
    text = (project / "gp.yaml").read_text(encoding="utf-8")
    (project / "gp.yaml").write_text(text.replace("seed: 7", "seed: 8"), encoding="utf-8")
    other = trained_ws.training.train(project)
    assert other.fingerprint != first.fingerprint
    assert other.same_fingerprint_as is None


def test_a_rerun_uses_the_recorded_config_and_seed_not_todays_gp_yaml(
    trained_ws: Workspace, project: Path
) -> None:
    write_train(project, PREPARE + MODELS["random_forest"])
    first = trained_ws.training.train(project)
    text = (project / "gp.yaml").read_text(encoding="utf-8")
    changed = text.replace("seed: 7", "seed: 8").replace("validation: 0.25", "validation: 0.4")
    changed = changed.replace("roc_auc >= 0.6", "roc_auc >= 0.99").replace("C: 1.0", "C: 0.5")
    assert changed.count("seed: 8") == 1 and "validation: 0.4" in changed and "C: 0.5" in changed
    (project / "gp.yaml").write_text(changed, encoding="utf-8")
    again = trained_ws.training.rerun(first.run_id)
    assert again.fingerprint == first.fingerprint
    rerun, original = trained_ws.runs.get(again.run_id), trained_ws.runs.get(first.run_id)
    assert rerun.seed == original.seed == 7 and rerun.params == original.params
    assert rerun.params["C"] == "1.0"
    assert again.evaluation["rows"] == first.evaluation["rows"]  # the recorded 0.25 split
    assert trained_ws.models.get(again.model).gates["metrics"] == ["roc_auc >= 0.6"]
