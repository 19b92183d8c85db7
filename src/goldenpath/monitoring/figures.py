"""A window's figures for one model version: drift per input and of the score, and the data
quality at serving, each with its verdict.

Where an input's served value is read from a log record: ``features[name]["value"]`` for a
looked-up (or on-demand) feature, else ``request[name]`` (a request field, or a V2 tensor
column). The score is ``output["probability"]`` (a classifier's positive class) or
``output["prediction"]`` (a regressor's).

Quality rates (subject ``*``): ``missing_feature_rate`` and ``expired_feature_rate`` are
shares of the feature values read (status ``missing`` / ``expired``), as the server's
``gp_online_features_total`` counts them; ``out_of_contract_rate`` the share of rows that broke
a rule of the training data's contract; ``error_rate`` the share of logged rows whose status
is not 2xx; ``latency_p50_ms`` and ``latency_p99_ms`` over the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from goldenpath.monitoring import drift, verdicts

SCORE = "score"
QUALITY = "*"
FEATURE, SCORE_KIND, QUALITY_KIND = "feature", "score", "quality"


@dataclass(frozen=True)
class Figure:
    subject: str  # a feature (model input) name, "score", or "*" for the quality rates
    kind: str  # feature | score | quality
    metric: str
    value: float | None
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VersionFigures:
    model_version: int
    role: str
    samples: int
    verdict: str
    figures: list[Figure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "role": self.role,
            "samples": self.samples,
            "verdict": self.verdict,
            "figures": [f.as_dict() for f in self.figures],
        }


def _json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def compute(
    rows: pa.Table,
    model_version: int,
    profile: Mapping[str, Any],
    *,
    min_samples: int = verdicts.MIN_SAMPLES,
) -> VersionFigures:
    """The figures of ``rows`` (one version's, window.COLUMNS) against its reference profile."""
    columns: Mapping[str, Any] = profile.get("columns", {})
    sample: Mapping[str, Sequence[Any]] = profile.get("sample", {})
    names = list(columns)
    values: dict[str, list[Any]] = {name: [] for name in names}
    read = {"present": 0, "missing": 0, "expired": 0}
    per_feature: dict[str, dict[str, int]] = {}
    scores: list[float | None] = []
    roles = rows["role"].to_pylist()
    for features_text, request_text, output_text in zip(
        rows["features"].to_pylist(),
        rows["request"].to_pylist(),
        rows["output"].to_pylist(),
        strict=True,
    ):
        features = _json(features_text) or {}
        request = _json(request_text) or {}
        output = _json(output_text) or {}
        for name in names:
            found = features.get(name) if isinstance(features, dict) else None
            if isinstance(found, dict):
                status = str(found.get("status", "present"))
                if status in read:
                    read[status] += 1
                    counts = per_feature.setdefault(name, {"missing": 0, "expired": 0, "read": 0})
                    counts["read"] += 1
                    if status != "present":
                        counts[status] += 1
                value = found.get("value")
            else:
                value = request.get(name) if isinstance(request, dict) else None
            values[name].append(value)
        score = None
        if isinstance(output, dict):
            score = _number(output.get("probability", output.get("prediction")))
        scores.append(score)
    samples = rows.num_rows
    out: list[Figure] = []

    def add(subject: str, kind: str, metric: str, value: float | None) -> None:
        out.append(
            Figure(
                subject, kind, metric, value, verdicts.verdict(metric, value, samples, min_samples)
            )
        )

    for name in names:
        column = columns[name]
        served = values[name]
        if column.get("kind") == "text":
            texts = [None if v is None else str(v) for v in served]
            for metric, value in drift.category_drift(column, sample.get(name, []), texts).items():
                add(name, FEATURE, metric, value)
        else:
            numbers = [_number(v) for v in served]
            clean = [v for v in numbers if v is not None]
            for metric, value in drift.number_drift(column, sample.get(name, []), clean).items():
                add(name, FEATURE, metric, value)
            served = numbers
        add(name, FEATURE, "missing_rate", _share(sum(v is None for v in served), samples))
        looked_up = per_feature.get(name)
        if looked_up is not None:
            add(name, FEATURE, "expired_rate", _share(looked_up["expired"], looked_up["read"]))
    reference = profile.get("prediction")
    if isinstance(reference, Mapping):
        present = [s for s in scores if s is not None]
        for metric, value in drift.number_drift(
            reference, sample.get("prediction", []), present
        ).items():
            add(SCORE, SCORE_KIND, metric, value)
    total_read = sum(read.values())
    add(QUALITY, QUALITY_KIND, "missing_feature_rate", _share(read["missing"], total_read))
    add(QUALITY, QUALITY_KIND, "expired_feature_rate", _share(read["expired"], total_read))
    passed = rows["contract_passed"].to_pylist()
    add(
        QUALITY,
        QUALITY_KIND,
        "out_of_contract_rate",
        _share(sum(p is False for p in passed), samples),
    )
    codes = [int(s) for s in rows["status"].to_pylist() if s is not None]
    add(
        QUALITY,
        QUALITY_KIND,
        "error_rate",
        _share(sum(not 200 <= s < 300 for s in codes), len(codes)),
    )
    latency = np.asarray(
        [x for x in rows["latency_ms"].to_pylist() if x is not None], dtype=np.float64
    )
    add(
        QUALITY,
        QUALITY_KIND,
        "latency_p50_ms",
        float(np.quantile(latency, 0.5)) if latency.size else None,
    )
    add(
        QUALITY,
        QUALITY_KIND,
        "latency_p99_ms",
        float(np.quantile(latency, 0.99)) if latency.size else None,
    )
    role = max(set(roles), key=roles.count) if roles else ""
    verdict = verdicts.worst(f.verdict for f in out)
    return VersionFigures(model_version, str(role), samples, verdict, out)


def score_of(output_text: Any) -> float | None:
    """A log record's score: its output's ``probability``, else its ``prediction``."""
    output = _json(output_text)
    if not isinstance(output, dict):
        return None
    return _number(output.get("probability", output.get("prediction")))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
