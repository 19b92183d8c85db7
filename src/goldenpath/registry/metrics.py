"""Evaluation metrics: the numbers a run records and the promotion gates compare.

One place computes them, so the metric a gate reads for a champion on the candidate's
validation data is computed exactly as the candidate's own was.

Classification (binary): ``roc_auc``, ``pr_auc`` (average precision), ``f1`` at the threshold,
``log_loss``, ``calibration_error`` (expected calibration error over 10 equal-width bins of the
predicted probability). Regression: ``rmse``, ``mae``, ``r2``. A metric that is undefined on
the data (ROC AUC over one class, R² over one row) is NaN, never an exception: a gate on it
then fails with the reason, instead of the pipeline crashing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads with the first computation (the registry lists without it)
    import numpy as np

TASKS = ("classification", "regression")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "f1", "log_loss", "calibration_error")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# Metrics where bigger is better (for "no regression" gates); the rest are errors.
HIGHER_IS_BETTER = frozenset({"roc_auc", "pr_auc", "f1", "r2"})
# Classification metrics of the labels predicted at a fixed threshold on the probability (the
# others are threshold-free): shown with the threshold they used.
AT_THRESHOLD = frozenset({"f1"})
DEFAULT_THRESHOLD = 0.5
# Segments smaller than this are reported with their size but no metrics.
SEGMENT_ROWS_MIN = 20
# At most this many segment values per column (the most frequent) are evaluated.
SEGMENT_VALUES_MAX = 50
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Evaluation:
    """Overall metrics and, per segment column and value, the same metrics on that slice."""

    task: str
    metrics: dict[str, float]
    rows: int
    segments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # The probability at or above which a row is predicted positive, for the AT_THRESHOLD
    # metrics (classification only).
    threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "rows": self.rows,
            "threshold": self.threshold,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "segments": self.segments,
        }


def _json_number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def metric_names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def compute(
    task: str,
    y_true: Sequence[Any] | np.ndarray,
    score: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """The metrics of ``task``. ``score``: the positive class's probability for
    classification (labels 0/1 or False/True), the prediction for regression."""
    import numpy as np

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "classification":
            return _classification(y, s, threshold)
        return _regression(y, s)


def _classification(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    nan = float("nan")
    both = y.size > 0 and 0 < y.sum() < y.size and not np.isnan(p).any()
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else nan,
        "pr_auc": float(average_precision_score(y, p)) if both else nan,
        "f1": float(f1_score(y, p >= threshold, zero_division=0.0)) if y.size else nan,
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])) if y.size and both else nan,
        "calibration_error": _calibration_error(y, p) if y.size else nan,
    }


def _calibration_error(y: np.ndarray, p: np.ndarray) -> float:
    """Expected calibration error: the row-weighted gap between mean predicted probability
    and observed positive rate, over equal-width probability bins."""
    import numpy as np

    if np.isnan(p).any():
        return float("nan")
    bins = np.minimum((p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    total = 0.0
    for b in np.unique(bins):
        mask = bins == b
        total += mask.sum() * abs(float(p[mask].mean()) - float(y[mask].mean()))
    return float(total / y.size)


def _regression(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    import numpy as np

    nan = float("nan")
    if y.size == 0 or np.isnan(pred).any():
        return {"rmse": nan, "mae": nan, "r2": nan}
    error = pred - y
    spread = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt((error**2).mean())),
        "mae": float(np.abs(error).mean()),
        "r2": 1.0 - float((error**2).sum()) / spread if spread > 0 else nan,
    }


def evaluate(
    task: str,
    y_true: Sequence[Any] | np.ndarray,
    score: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    segments: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
) -> Evaluation:
    """Overall metrics, and per segment column (``segments``: column name -> its values, row
    for row) the metrics on each of its values' rows."""
    import numpy as np

    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    per_segment: dict[str, dict[str, dict[str, Any]]] = {}
    for column, raw in (segments or {}).items():
        values = np.asarray(raw, dtype=object)
        keys = np.array(["(missing)" if v is None else str(v) for v in values], dtype=object)
        found, counts = np.unique(keys, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:SEGMENT_VALUES_MAX]
        per_segment[column] = {}
        for index in order:
            key = str(found[index])
            mask = keys == key
            rows = int(mask.sum())
            entry: dict[str, Any] = {"rows": rows}
            if rows >= SEGMENT_ROWS_MIN:
                entry["metrics"] = {
                    k: _json_number(v)
                    for k, v in compute(task, y[mask], s[mask], threshold=threshold).items()
                }
            per_segment[column][key] = entry
    return Evaluation(
        task,
        compute(task, y, s, threshold=threshold),
        int(y.size),
        per_segment,
        threshold if task == "classification" else None,
    )
