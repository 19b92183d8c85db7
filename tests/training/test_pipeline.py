"""gp train end to end through the SDK: every step, what the run and the version hold, caching,
failures that name their step and register nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import goldenpath
from goldenpath.core.errors import InvalidInput, TrainingFailed
from goldenpath.store.tables import lineage_edges, model_versions
from goldenpath.training.pipeline import StepEvent
from goldenpath.workspace import Workspace
from tests.training.conftest import write_train


def test_train_registers_a_version_with_its_run_metrics_and_lineage(
    trained_ws: Workspace, project: Path
) -> None:
    events: list[StepEvent] = []
    result = trained_ws.training.train(project, on_step=events.append)
    seen = [e.step for e in events]
    assert seen == ["contract", "training_set", "split", "train", "evaluate", "register"]
    # The threshold-free metrics, then F1 beside the threshold it used (gp.yaml's, 0.5).
    evaluated = events[4].detail
    assert evaluated.startswith("roc_auc "), evaluated
    free, fixed = evaluated.split("  | ")
    assert "f1" not in free and "log_loss" in free and "pr_auc" in free
    assert fixed.startswith("at threshold 0.5: f1 "), evaluated
    assert result.evaluation["threshold"] == 0.5
    assert result.model == "fraud@1" and not result.reused_training_set
    assert result.metrics["roc_auc"] is not None and 0.5 < result.metrics["roc_auc"] <= 1

    run = trained_ws.runs.get(result.run_id)
    assert run.status == "finished" and run.source == "pipeline" and run.seed == 7
    assert run.params == {"C": "1.0", "max_iter": "200"}
    assert set(run.metrics) >= {"roc_auc", "pr_auc", "f1", "log_loss", "calibration_error"}
    assert any(k.startswith("roc_auc.currency.") for k in run.metrics)  # per segment
    assert run.environment["python"] and "scikit-learn" in run.environment["packages"]
    assert run.duration_s and run.duration_s > 0 and run.cpu_s and run.cpu_s > 0
    kinds = {i["kind"]: i["ref"] for i in run.inputs}
    assert kinds == {"dataset_version": "transactions@1", "training_set": "fraud-train@1"}
    assert {a["name"] for a in run.artifacts} >= {"train.log", "training.json", "entry.py"}

    version = trained_ws.models.get("fraud@1")
    assert version.run_id == result.run_id
    names = [i["name"] for i in version.signature["inputs"]]
    assert names == ["currency", "amount", "tx_count_1h", "amount_mean_7d"]
    assert version.lineage["contract_passed"] is True
    assert version.lineage["training_set"]["ref"] == "fraud-train@1"
    with trained_ws.store.connect() as conn:
        into_run = conn.execute(
            select(lineage_edges.c.from_kind).where(lineage_edges.c.to_id == result.run_id)
        ).scalars()
        assert set(into_run) == {"dataset_version", "training_set"}


def test_nothing_changed_reuses_the_training_set_and_no_cache_rebuilds_it(
    trained_ws: Workspace, project: Path
) -> None:
    first = trained_ws.training.train(project)
    again = trained_ws.training.train(project, params=["C=0.5"])
    assert again.reused_training_set and again.training_set == first.training_set
    assert trained_ws.runs.get(again.run_id).params["C"] == "0.5"
    forced = trained_ws.training.train(project, no_cache=True)
    assert not forced.reused_training_set and forced.training_set == "fraud-train@2"


def test_new_data_is_a_new_training_set(trained_ws: Workspace, project: Path) -> None:
    trained_ws.training.train(project)
    frame = pd.read_csv(project / "transactions.csv").head(150)
    frame["tx_id"] = [f"tx_{9000 + i:06d}" for i in range(150)]
    frame.to_csv(project / "more.csv", index=False)
    trained_ws.datasets.ingest("transactions", project / "more.csv")
    after = trained_ws.training.train(project)
    assert not after.reused_training_set and after.training_set == "fraud-train@2"


def test_the_time_split_keeps_validation_rows_out_of_training(
    trained_ws: Workspace, project: Path
) -> None:
    write_train(
        project,
        "def train(ctx):\n"
        "    assert ctx.train['ts'].max() < ctx.validation['ts'].min(), 'future rows leaked'\n"
        "    assert len(ctx.validation) == 500\n"
        "    from sklearn.linear_model import LogisticRegression\n"
        "    return LogisticRegression().fit(ctx.X_train[ctx.numeric].fillna(0), ctx.y_train)\n",
    )
    (project / "gp.yaml").write_text(
        (project / "gp.yaml").read_text().replace("columns: [currency]", "columns: []"),
        encoding="utf-8",
    )
    assert trained_ws.training.train(project).model == "fraud@1"


def failing(trained_ws: Workspace, project: Path) -> TrainingFailed:
    with pytest.raises(TrainingFailed) as caught:
        trained_ws.training.train(project)
    return caught.value


def no_versions(ws: Workspace) -> bool:
    with ws.store.connect() as conn:
        return conn.execute(select(model_versions.c.id)).first() is None


def test_a_failing_train_marks_the_run_failed_keeps_the_traceback_registers_nothing(
    trained_ws: Workspace, project: Path
) -> None:
    write_train(project, "def train(ctx):\n    raise ValueError('no convergence')\n")
    error = failing(trained_ws, project)
    assert error.step == "train" and str(error.message) == (
        "train failed: ValueError: no convergence"
    )
    run = trained_ws.runs.get(error.run_id)
    assert run.status == "failed" and run.error is not None
    assert run.error["step"] == "train" and "no convergence" in run.error["traceback"]
    assert no_versions(trained_ws)


def test_an_unsupported_model_names_the_supported_types(
    trained_ws: Workspace, project: Path
) -> None:
    write_train(project, "def train(ctx):\n    return {'weights': [1, 2]}\n")
    error = failing(trained_ws, project)
    assert error.step == "register" and "dict" in error.message
    assert "LogisticRegression" in error.message or "scikit-learn" in error.message
    assert no_versions(trained_ws)


def test_hist_gradient_boosting_is_refused_with_the_reason(
    trained_ws: Workspace, project: Path
) -> None:
    write_train(
        project,
        "from sklearn.ensemble import HistGradientBoostingClassifier\n"
        "def train(ctx):\n"
        "    X = ctx.X_train[ctx.numeric]\n"
        "    return HistGradientBoostingClassifier(max_iter=5).fit(X, ctx.y_train)\n",
    )
    error = failing(trained_ws, project)
    assert error.step == "register" and "HistGradientBoosting" in error.message
    assert no_versions(trained_ws)


def test_a_missing_entry_file_or_function_is_one_clear_error(
    trained_ws: Workspace, project: Path
) -> None:
    (project / "train.py").unlink()
    with pytest.raises(InvalidInput, match=r"train\.py not found"):
        trained_ws.training.train(project)
    write_train(project, "def fit(ctx):\n    pass\n")
    error = failing(trained_ws, project)
    assert error.step == "load" and "has no function train(ctx)" in error.message
    assert no_versions(trained_ws)


def test_a_wrongly_typed_param_is_refused_before_any_run(
    trained_ws: Workspace, project: Path
) -> None:
    with pytest.raises(InvalidInput, match="max_iter is int"):
        trained_ws.training.train(project, params=["max_iter=many"])
    assert trained_ws.runs.list() == []


def test_the_model_is_a_user_of_its_features(trained_ws: Workspace, project: Path) -> None:
    """The feature store's breaking-change check names the model (issue 14, part 5)."""
    from goldenpath.core.errors import Conflict

    trained_ws.training.train(project)
    text = (project / "features.py").read_text(encoding="utf-8")
    broken = text.replace(', "user_tx:amount_mean_7d"]', "]").replace(
        'Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),', ""
    )
    assert broken != text
    (project / "features.py").write_text(broken, encoding="utf-8")
    with pytest.raises(Conflict, match=r"model fraud@1"):
        trained_ws.features.plan(project / "features.py")


def test_the_workspace_limits_reach_the_packaging_in_the_training_process(
    trained_ws: Workspace, project: Path, tmp_path: Path
) -> None:
    """The child reads no workspace config: the parent hands it the packaging limits."""
    config = tmp_path / "home" / "config.yaml"
    config.write_text(config.read_text() + "limits:\n  model_features_max: 1\n")
    with goldenpath.connect(tmp_path / "home", actor="alice") as ws:
        error = failing(ws, project)
        assert error.step == "register"
        assert "at most 1 are supported (limits.model_features_max)" in str(error.message)
        assert no_versions(ws)
