"""A hostile train.py cannot forge what the gates read: the parent evaluates, profiles and
checks parity on the validation rows it holds itself, with scores it computes itself from the
model artifact; nothing else the training process writes feeds an evaluation."""

from __future__ import annotations

from pathlib import Path

from sklearn.metrics import roc_auc_score

from goldenpath.workspace import Workspace
from tests.training.conftest import EXAMPLE, write_train

HONEST = (EXAMPLE / "train.py").read_text(encoding="utf-8")

# The example model, then labels rewritten in the work dir so that they agree with the model.
FORGE_LABELS = (
    HONEST
    + """

_honest_train = train


def train(ctx):
    import numpy as np
    import pandas as pd

    model = _honest_train(ctx)
    rows = pd.read_parquet("validation.parquet")
    scores = model.predict_proba(ctx.X_validation)[:, 1]
    rows[ctx.label] = (scores >= np.median(scores)).astype(rows[ctx.label].dtype)
    rows.to_parquet("validation.parquet", index=False)
    return model
"""
)

# A model whose scores are all but constant (far below float32's resolution), and native
# scores nudged by the true label within the parity tolerance: ranked by the forged scores,
# the validation rows would give roc_auc 1.0.
FORGE_SCORES = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

import goldenpath.registry.packaging as packaging


def train(ctx):
    X = ctx.X_train[ctx.numeric].fillna(0.0)
    model = LogisticRegression(C=1e-12).fit(X, ctx.y_train)
    y = ctx.y_validation.to_numpy()
    honest = packaging._native_scores

    def forged(flavor, model, frame, task):
        return honest(flavor, model, frame.fillna(0.0), task) + 5e-5 * (2 * y - 1)

    packaging._native_scores = forged
    return model
"""


def numeric_only(project: Path) -> None:
    text = (project / "gp.yaml").read_text(encoding="utf-8")
    (project / "gp.yaml").write_text(text.replace("columns: [currency]", "columns: []"))


def test_rewritten_validation_labels_change_no_metric(trained_ws: Workspace, project: Path) -> None:
    honest = trained_ws.training.train(project)
    write_train(project, FORGE_LABELS)
    forged = trained_ws.training.train(project)
    assert forged.fingerprint == honest.fingerprint  # the same model...
    assert forged.metrics == honest.metrics  # ...measured on the same, parent-held labels
    assert forged.metrics["roc_auc"] is not None and forged.metrics["roc_auc"] < 0.999
    first, second = trained_ws.models.get(honest.model), trained_ws.models.get(forged.model)
    assert second.metrics == first.metrics
    kept = trained_ws.models.validation_rows(forged.model)
    assert (
        kept["is_fraud"].tolist()
        == trained_ws.models.validation_rows(honest.model)["is_fraud"].tolist()
    )
    assert trained_ws.models.profile(forged.model) == trained_ws.models.profile(honest.model)


def test_native_scores_forged_within_the_tolerance_are_not_what_is_measured(
    trained_ws: Workspace, project: Path
) -> None:
    numeric_only(project)
    write_train(project, FORGE_SCORES)
    result = trained_ws.training.train(project)
    # Measured with the scores of the ONNX graph (the model that is served), as a client
    # scoring the kept validation rows would measure it; not 1.0 from the forged ones.
    kept = trained_ws.models.validation_rows(result.model)
    served = trained_ws.models.predict(result.model, kept)["probability"].to_numpy()
    honest = roc_auc_score(kept["is_fraud"].to_numpy(), served)
    assert result.metrics["roc_auc"] == honest < 0.99
    assert trained_ws.models.get(result.model).metrics["roc_auc"] == honest
    profile = trained_ws.models.profile(result.model)
    sampled = profile["sample"]["prediction"]
    assert sampled == served[: len(sampled)].tolist()
