"""The reference profile of a model version: its inputs and predictions on the validation rows.

The drift monitor compares what a deployment sees with this (PSI over the bins, Wasserstein
and KS over the sample). Stored as one JSON artifact (docs/models.md, "Reference profile"):

.. code-block:: text

    {"format": "goldenpath.reference-profile/1", "rows": N, "sample_rows": S,
     "columns": {NAME: PROFILE, ...},          # each feature, in signature order
     "prediction": PROFILE,                    # the score (probability or prediction)
     "sample": {NAME: [...], ..., "prediction": [...]}}   # the first S rows, raw

    number PROFILE: {"kind": "number", "count", "missing", "min", "max", "mean", "std",
                     "bins": {"edges": [...], "counts": [...]}}   # quantile edges (10 bins)
    text PROFILE:   {"kind": "text", "count", "missing", "distinct",
                     "top": [{"value", "count", "frequency"}, ...], "other_count"}

``edges`` are the distinct quantiles (0, 0.1, ..., 1) of the non-missing values, so bins hold
about equal shares; ``counts[i]`` counts values in ``[edges[i], edges[i+1])``, the last bin
closed. ``frequency`` is a share of the non-missing values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "goldenpath.reference-profile/1"
BINS = 10
TOP_CATEGORIES = 50
SAMPLE_ROWS = 1_000
TEXT_CHARS_MAX = 200  # a sampled or top text value is cut to this


def _float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def number_profile(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.float64)
    present = values[np.isfinite(values)]
    profile: dict[str, Any] = {
        "kind": "number",
        "count": int(values.size),
        "missing": int(values.size - present.size),
    }
    if present.size == 0:
        return {**profile, "min": None, "max": None, "mean": None, "std": None, "bins": None}
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, BINS + 1)))
    if edges.size == 1:
        counts = np.array([present.size])
    else:
        counts, _ = np.histogram(present, bins=edges)
    return {
        **profile,
        "min": _float(present.min()),
        "max": _float(present.max()),
        "mean": _float(present.mean()),
        "std": _float(present.std()),
        "bins": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def text_profile(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().astype(str)
    counts = present.value_counts(sort=True)
    top = counts.iloc[:TOP_CATEGORIES]
    total = int(present.size)
    return {
        "kind": "text",
        "count": int(values.size),
        "missing": int(values.size - total),
        "distinct": int(counts.size),
        "top": [
            {
                "value": str(v)[:TEXT_CHARS_MAX],
                "count": int(c),
                "frequency": float(c) / total if total else 0.0,
            }
            for v, c in top.items()
        ],
        "other_count": int(total - int(top.sum())),
    }


def _sample(values: pd.Series, kind: str) -> list[Any]:
    head = values.iloc[:SAMPLE_ROWS]
    if kind == "string":
        return [None if v is None or v != v else str(v)[:TEXT_CHARS_MAX] for v in head]
    return [_float(v) if v is not None else None for v in head.astype("float64")]


def reference_profile(
    frame: pd.DataFrame, inputs: Sequence[Mapping[str, Any]], scores: np.ndarray
) -> dict[str, Any]:
    """The profile of ``frame``'s feature columns (``inputs``: the signature's) and the
    model's ``scores`` on it."""
    import pandas as pd

    columns: dict[str, Any] = {}
    sample: dict[str, list[Any]] = {}
    for spec in inputs:
        name, kind = spec["name"], spec["type"]
        series = frame[name]
        if kind == "string":
            columns[name] = text_profile(series)
        else:
            columns[name] = number_profile(series.to_numpy(dtype=np.float64, na_value=np.nan))
        sample[name] = _sample(series, kind)
    sample["prediction"] = _sample(pd.Series(scores), "float")
    return {
        "format": FORMAT,
        "rows": len(frame),
        "sample_rows": min(len(frame), SAMPLE_ROWS),
        "columns": columns,
        "prediction": number_profile(scores),
        "sample": sample,
    }
